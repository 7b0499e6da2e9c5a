// The blob service's entry point: its interfaces and tokens, the Nest module, the RPC table and its
// client/controller, the DigestGuard lease API (gc and containers guard their own writes and sweeps
// with it), and a factory for tests and tools that need layer storage without Nest. The repositories
// behind the service stay inside this lib.
export * from './blob-service';
export { BLOB_RPC, BlobsRpcController, blobServiceClient } from './blob-rpc';
export { BlobsModule } from './blobs.module';
export { createBlobReader, type BlobReader } from './blob-reader';
export { DigestGuard, luaMayGo, SWEEP_LEASE_SECONDS } from './digest-guard';
export { createLayerStorage, type LayerStorageOptions } from './layer-storage';
export { BlobConsistency, createBlobConsistency } from './blob-consistency';
export * from './consistency-diff';
