// Nest wiring of the metadata service: the in-process service, or a client of a remote metadata-service.
import { DynamicModule, Module } from '@nestjs/common';
import type Redis from 'ioredis';
import { CONFIG, REDIS, RedisKeys, STORAGE, StevedoreMetrics, type StevedoreConfig } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { BLOB_GC_SERVICE, BLOB_QUOTA, BLOB_SERVICE, type BlobGcService, type BlobQuota, type BlobService } from '@stevedore/blobs';
import { METADATA_GC_SERVICE, METADATA_SERVICE } from './metadata-service';
import { createManifestMetadata } from './manifest-metadata';
import { MetadataRpcController, metadataServiceClient } from './metadata-rpc';
import { createManifestReader } from './manifest-reader';
import { REPOSITORY_INDEX, createRepositoryIndex } from './repository-index';
import type { LocalReference } from '@stevedore/oci';

// Read from Redis wherever the process runs (a split gateway too), and counting pulls there.
const repositoryIndex = {
  provide: REPOSITORY_INDEX,
  inject: [REDIS, RedisKeys],
  useFactory: (redis: Redis, keys: RedisKeys) => createRepositoryIndex(redis, keys),
};

@Module({})
export class MetadataModule {
  /** Needs a BLOB_SERVICE provider in scope (BlobsModule, in-process or remote). */
  static inProcess(blobs: DynamicModule, options: { serveInternal?: boolean } = {}): DynamicModule {
    return {
      module: MetadataModule,
      imports: [blobs],
      controllers: options.serveInternal ? [MetadataRpcController] : [],
      providers: [
        {
          provide: METADATA_SERVICE,
          // BLOB_QUOTA comes from a global module (libs/gc) where the target enforces quotas.
          inject: [
            STORAGE,
            REDIS,
            RedisKeys,
            BLOB_SERVICE,
            BLOB_GC_SERVICE,
            CONFIG,
            { token: BLOB_QUOTA, optional: true },
            { token: StevedoreMetrics, optional: true },
          ],
          useFactory: (
            storage: StorageDriver,
            redis: Redis,
            keys: RedisKeys,
            b: BlobService,
            gc: BlobGcService,
            c: StevedoreConfig,
            quota?: BlobQuota,
            metrics?: StevedoreMetrics,
          ) =>
            createManifestMetadata(storage, redis, keys, b, gc, {
              maxManifestBytes: c.STEVEDORE_MAX_MANIFEST_BYTES,
              quota,
              repair: { onRepair: (kind) => metrics?.readRepairs.inc({ kind }) },
            }),
        },
        { provide: METADATA_GC_SERVICE, useExisting: METADATA_SERVICE },
        repositoryIndex,
      ],
      exports: [METADATA_SERVICE, METADATA_GC_SERVICE, REPOSITORY_INDEX],
    };
  }

  static remote(): DynamicModule {
    return {
      module: MetadataModule,
      providers: [
        {
          provide: METADATA_SERVICE,
          inject: [CONFIG, STORAGE, REDIS, RedisKeys, { token: StevedoreMetrics, optional: true }],
          useFactory: (c: StevedoreConfig, storage: StorageDriver, redis: Redis, keys: RedisKeys, metrics?: StevedoreMetrics) => {
            const remote = metadataServiceClient(c.STEVEDORE_METADATA_SERVICE_URL!, c.STEVEDORE_INTERNAL_TOKEN);
            // Manifest reads (every pull) from metadata's read side in this process: Redis and a
            // cache by digest, not a round trip to metadata-service; everything else goes there.
            const reader = createManifestReader(storage, redis, keys, { onRepair: (kind) => metrics?.readRepairs.inc({ kind }) });
            return { ...remote, getManifest: (ref: LocalReference) => reader.getManifest(ref) };
          },
        },
        { provide: METADATA_GC_SERVICE, useExisting: METADATA_SERVICE },
        repositoryIndex,
      ],
      exports: [METADATA_SERVICE, METADATA_GC_SERVICE, REPOSITORY_INDEX],
    };
  }
}
