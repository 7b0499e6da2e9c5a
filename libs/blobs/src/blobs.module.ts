// Nest wiring of the blob service: layer storage in this process, or a client of a remote blob-service.
import { DynamicModule, Module } from '@nestjs/common';
import type Redis from 'ioredis';
import { CONFIG, REDIS, RedisKeys, STORAGE, StevedoreMetrics, type StevedoreConfig } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { BLOB_GC_SERVICE, BLOB_QUOTA, BLOB_SERVICE, type BlobGcService, type BlobQuota, type BlobService } from './blob-service';
import { BlobsRpcController, blobServiceClient } from './blob-rpc';
import { createBlobReader } from './blob-reader';
import { createLayerStorage } from './layer-storage';

/**
 * The writes a split gateway or metadata-service runs in process (its reads are createBlobReader's):
 * every method that takes a blob's bytes, and manifest bytes (storeContent), which every manifest
 * PUT stores before its revision link: on blob-service that was a second internal round trip per
 * push (gateway -> metadata-service -> blob-service), for a write any process with the storage can
 * make itself.
 */
const WRITE_PATH = [
  'startUpload',
  'uploadStatus',
  'appendChunk',
  'completeUpload',
  'cancelUpload',
  'mount',
  'putBlob',
  'storeContent',
] as const satisfies ReadonlyArray<keyof BlobService>;

@Module({})
export class BlobsModule {
  /** This process stores blobs; `serveInternal` also exposes the internal API for split gateways. */
  static inProcess(options: { serveInternal?: boolean } = {}): DynamicModule {
    return {
      module: BlobsModule,
      controllers: options.serveInternal ? [BlobsRpcController] : [],
      providers: [
        {
          provide: BLOB_SERVICE,
          // BLOB_QUOTA comes from a global module (libs/gc) where the target enforces quotas.
          inject: [STORAGE, REDIS, RedisKeys, { token: BLOB_QUOTA, optional: true }, { token: StevedoreMetrics, optional: true }],
          useFactory: (storage: StorageDriver, redis: Redis, keys: RedisKeys, quota?: BlobQuota, metrics?: StevedoreMetrics) =>
            createLayerStorage(storage, redis, keys, { quota, onRepair: () => metrics?.readRepairs.inc({ kind: 'link' }) }),
        },
        { provide: BLOB_GC_SERVICE, useExisting: BLOB_SERVICE },
      ],
      exports: [BLOB_SERVICE, BLOB_GC_SERVICE],
    };
  }

  /**
   * Blobs are owned by another process (STEVEDORE_BLOB_SERVICE_URL), but the bytes of a push or a
   * pull do not take a second hop: this process (a split gateway or metadata-service) runs layer
   * storage's byte path itself, on the same storage and Redis (HEAD, GET, uploads, mounts, monolithic
   * PUTs, manifest bytes). Sessions, running hashes and digest leases are the same as in any replica
   * of blob-service, so an upload may move between them. Links, reading content back for metadata,
   * reindex and GC go to blob-service.
   */
  static remote(): DynamicModule {
    return {
      module: BlobsModule,
      providers: [
        {
          provide: BLOB_SERVICE,
          inject: [CONFIG, STORAGE, REDIS, RedisKeys, { token: BLOB_QUOTA, optional: true }, { token: StevedoreMetrics, optional: true }],
          useFactory: (
            c: StevedoreConfig,
            storage: StorageDriver,
            redis: Redis,
            keys: RedisKeys,
            quota?: BlobQuota,
            metrics?: StevedoreMetrics,
          ) => {
            const remote = blobServiceClient(c.STEVEDORE_BLOB_SERVICE_URL!, c.STEVEDORE_INTERNAL_TOKEN);
            const local = createLayerStorage(storage, redis, keys, { quota });
            const writes = Object.fromEntries(WRITE_PATH.map((m) => [m, local[m].bind(local)]));
            const reader = createBlobReader(storage, redis, keys, () => metrics?.readRepairs.inc({ kind: 'link' }));
            return { ...remote, ...writes, stat: reader.stat, exists: reader.exists, open: reader.open } as BlobService & BlobGcService;
          },
        },
        { provide: BLOB_GC_SERVICE, useExisting: BLOB_SERVICE },
      ],
      exports: [BLOB_SERVICE, BLOB_GC_SERVICE],
    };
  }
}
