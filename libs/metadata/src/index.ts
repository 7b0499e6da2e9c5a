// The metadata service's entry point: its interfaces and tokens, the Nest module, the RPC table and
// the client and controller derived from it, and a factory of the in-process service for wiring and
// tests elsewhere. The repositories it is built from stay inside this lib.
export * from './metadata-service';
export * from './metadata.module';
export * from './metadata-rpc';
export { createManifestMetadata, type ManifestMetadataOptions } from './manifest-metadata';
export type { ReindexReport } from './manifest-reindex';
export {
  REPOSITORY_INDEX,
  createRepositoryIndex,
  type RepositoryIndex,
  type RepositoryQuery,
  type RepositoryRow,
  type RepositorySort,
} from './repository-index';
export { imageIdPrefix, MIN_IMAGE_ID_PREFIX } from './image-id-repository';
export {
  ConsistencyPass,
  createConsistencyPass,
  type ConsistencyPassOptions,
  type ConsistencyReport,
  type ConsistencyRunOptions,
} from './consistency-pass';
