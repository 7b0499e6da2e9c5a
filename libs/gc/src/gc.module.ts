// Nest wiring of storage hygiene. `GcModule.quotas()` (global) provides the quota hook BLOB_QUOTA to
// whichever blob and metadata stores the target runs in-process; `GcModule.forRoot(deps, ...)` adds
// the admin API ('all', 'gateway') and the worker with its schedule ('all', 'commit-worker'). `deps`
// provide BLOB_GC_SERVICE and METADATA_GC_SERVICE (BlobsModule and MetadataModule, in-process or remote),
// and CONTAINER_SERVICE (ContainersModule) where the worker also collects container contents.
import { DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import type Redis from 'ioredis';
import { CONFIG, REDIS, RedisKeys, STORAGE, StevedoreMetrics, type StevedoreConfig, type ModuleRoles } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { BLOB_GC_SERVICE, BLOB_QUOTA, type BlobGcService } from '@stevedore/blobs';
import {
  ConsistencyPass,
  METADATA_GC_SERVICE,
  METADATA_SERVICE,
  createConsistencyPass,
  type ManifestGcService,
  type MetadataService,
} from '@stevedore/metadata';
import { CONTAINER_SERVICE, type ContainerGcService } from '@stevedore/containers';
import { GarbageCollector } from './garbage-collector';
import { GcQueue } from './gc-queue';
import { GcWorker } from './gc-worker';
import { GcController } from './gc.controller';
import { ConsistencyController } from './consistency.controller';
import { ConsistencyQueue } from './consistency-queue';
import { ConsistencyWorker } from './consistency-worker';
import { NamespaceQuotas } from './namespace-quotas';
import { RetentionStore } from './retention-store';

@Global()
@Module({})
class GcQuotasModule {}

/** api: /api/v1/gc, /retention, /quotas, /admin/consistency; workers: the gc and consistency workers and their schedules. */
export type GcModuleOptions = Pick<ModuleRoles, 'api' | 'workers'>;

@Module({})
export class GcModule {
  static quotas(): DynamicModule {
    return {
      module: GcQuotasModule,
      global: true,
      providers: [
        {
          provide: NamespaceQuotas,
          inject: [STORAGE, REDIS, RedisKeys],
          // The limits index is rebuilt from storage at start when Redis lost it: uploads read it.
          useFactory: async (storage: StorageDriver, redis: Redis, keys: RedisKeys) => {
            const q = new NamespaceQuotas(storage, redis, keys);
            await q.reindexLimits();
            return q;
          },
        },
        { provide: BLOB_QUOTA, useExisting: NamespaceQuotas },
      ],
      exports: [NamespaceQuotas, BLOB_QUOTA],
    };
  }

  static forRoot(deps: DynamicModule[], options: GcModuleOptions = {}): DynamicModule {
    const providers: Provider[] = [
      {
        provide: RetentionStore,
        inject: [STORAGE, REDIS, RedisKeys],
        useFactory: (storage: StorageDriver, redis: Redis, keys: RedisKeys) => new RetentionStore(storage, redis, keys),
      },
      GcQueue,
      ConsistencyQueue,
    ];
    if (options.workers) {
      providers.push(
        {
          // One pass per process: the consistency queue's runs and the one each GC run starts with.
          // It reads storage and Redis itself (any process has both), as read repair does.
          provide: ConsistencyPass,
          inject: [STORAGE, REDIS, RedisKeys, StevedoreMetrics],
          useFactory: (storage: StorageDriver, redis: Redis, keys: RedisKeys, metrics: StevedoreMetrics) =>
            createConsistencyPass(storage, redis, keys, { onRepair: (kind, action) => metrics.consistencyRepairs.inc({ kind, action }) }),
        },
        {
          provide: GarbageCollector,
          inject: [
            REDIS,
            RedisKeys,
            BLOB_GC_SERVICE,
            METADATA_GC_SERVICE,
            METADATA_SERVICE,
            RetentionStore,
            NamespaceQuotas,
            StevedoreMetrics,
            CONFIG,
            ConsistencyPass,
            { token: CONTAINER_SERVICE, optional: true },
          ],
          useFactory: (
            redis: Redis,
            keys: RedisKeys,
            blobs: BlobGcService,
            manifests: ManifestGcService,
            metadata: MetadataService,
            retention: RetentionStore,
            quotas: NamespaceQuotas,
            metrics: StevedoreMetrics,
            c: StevedoreConfig,
            consistency: ConsistencyPass,
            containers?: ContainerGcService,
          ) =>
            new GarbageCollector(
              { redis, keys, blobs, manifests, metadata, retention, quotas, metrics, consistency, containers },
              {
                graceSeconds: c.STEVEDORE_GC_GRACE_SECONDS,
                untaggedMaxAgeSeconds: c.STEVEDORE_GC_UNTAGGED_MAX_AGE_SECONDS,
                uploadMaxAgeSeconds: c.STEVEDORE_GC_UPLOAD_MAX_AGE_SECONDS,
                batchSize: 1000,
              },
            ),
        },
        GcWorker,
        ConsistencyWorker,
      );
    }
    return {
      module: GcModule,
      imports: deps,
      controllers: options.api ? [GcController, ConsistencyController] : [],
      providers,
      exports: [GcQueue, ConsistencyQueue],
    };
  }
}
