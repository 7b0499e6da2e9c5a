// Nest wiring of the blob service: layer storage in this process, or a client of a remote blob-service.
import { DynamicModule, Module } from '@nestjs/common';
import type Redis from 'ioredis';
import { CONFIG, REDIS, RedisKeys, STORAGE, type StevedoreConfig } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { BLOB_GC_SERVICE, BLOB_QUOTA, BLOB_SERVICE, type BlobQuota } from './blob-service';
import { BlobsRpcController, blobServiceClient } from './blob-rpc';
import { createBlobReader } from './blob-reader';
import { createLayerStorage } from './layer-storage';

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
          inject: [STORAGE, REDIS, RedisKeys, { token: BLOB_QUOTA, optional: true }],
          useFactory: (storage: StorageDriver, redis: Redis, keys: RedisKeys, quota?: BlobQuota) =>
            createLayerStorage(storage, redis, keys, { quota }),
        },
        { provide: BLOB_GC_SERVICE, useExisting: BLOB_SERVICE },
      ],
      exports: [BLOB_SERVICE, BLOB_GC_SERVICE],
    };
  }

  /** Blobs live in another process (STEVEDORE_BLOB_SERVICE_URL). */
  static remote(): DynamicModule {
    return {
      module: BlobsModule,
      providers: [
        {
          provide: BLOB_SERVICE,
          inject: [CONFIG, STORAGE, REDIS, RedisKeys],
          useFactory: (c: StevedoreConfig, storage: StorageDriver, redis: Redis, keys: RedisKeys) => {
            const remote = blobServiceClient(c.STEVEDORE_BLOB_SERVICE_URL!, c.STEVEDORE_INTERNAL_TOKEN);
            // Reads (HEAD, existence, the bytes of a pull) in this process from the index and storage;
            // uploads, links and GC go to blob-service.
            const reader = createBlobReader(storage, redis, keys);
            return { ...remote, stat: reader.stat, exists: reader.exists, open: reader.open };
          },
        },
        { provide: BLOB_GC_SERVICE, useExisting: BLOB_SERVICE },
      ],
      exports: [BLOB_SERVICE, BLOB_GC_SERVICE],
    };
  }
}
