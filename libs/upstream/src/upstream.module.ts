// Nest wiring: wraps the BLOB_SERVICE and METADATA_SERVICE of `deps` with pull-through (and the
// replication-rule hook on tag writes), serves the management API, and optionally runs the
// `replicate` worker. Hand the result to RegistryApiModule.forRoot in place of the plain services.
import { DynamicModule, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Worker } from 'bullmq';
import {
  CONFIG,
  REDIS,
  ReadinessChecks,
  RedisKeys,
  STORAGE,
  type StevedoreConfig,
  closeBullmq,
  type ModuleRoles,
} from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { BLOB_SERVICE, type BlobService } from '@stevedore/blobs';
import { METADATA_SERVICE, REPOSITORY_INDEX, type MetadataService } from '@stevedore/metadata';
import { SecretBox, loadSecretKey } from './secret-box';
import { UpstreamStore } from './upstream-store';
import { UpstreamClients } from './upstream-clients';
import { PullThroughBlobService } from './pull-through-blobs';
import { PullThroughMetadataService } from './pull-through-metadata';
import { ReplicationRuleStore } from './replication-rules';
import { ReplicationQueue, startReplicationWorker } from './replication-queue';
import { Replicator } from './replicator';
import { UpstreamsController } from './upstreams.controller';

const INNER_BLOBS = Symbol('InnerBlobService');
const INNER_METADATA = Symbol('InnerMetadataService');
const INNER_REPOSITORY_INDEX = Symbol('InnerRepositoryIndex');

/** Re-exports the services of `deps` under inner tokens, so the wrappers can take the real names. */
@Module({})
class InnerServicesModule {}

class UpstreamLifecycle implements OnModuleInit, OnApplicationShutdown {
  private worker?: Worker;
  constructor(
    private readonly runWorker: boolean,
    private readonly config: StevedoreConfig,
    private readonly replicator: Replicator,
    private readonly clients: UpstreamClients,
    private readonly queue: ReplicationQueue,
    private readonly readiness: ReadinessChecks,
  ) {}
  onModuleInit(): void {
    if (!this.runWorker) return;
    this.worker = startReplicationWorker(this.config, this.replicator, this.readiness);
  }
  async onApplicationShutdown(): Promise<void> {
    await closeBullmq(this.worker, 2000);
    await this.queue.close();
    await this.clients.close();
  }
}

/** api: /api/v1/upstreams, /replications and /replication-rules; workers: the `replicate` worker. */
export type UpstreamModuleOptions = Pick<ModuleRoles, 'api' | 'workers'>;

@Module({})
export class UpstreamModule {
  /** `deps` must provide BLOB_SERVICE and METADATA_SERVICE (and optionally ACCESS_GUARD). */
  static forRoot(deps: DynamicModule[], options: UpstreamModuleOptions = {}): DynamicModule {
    const inner: DynamicModule = {
      module: InnerServicesModule,
      imports: deps,
      providers: [
        { provide: INNER_BLOBS, useExisting: BLOB_SERVICE },
        { provide: INNER_METADATA, useExisting: METADATA_SERVICE },
        { provide: INNER_REPOSITORY_INDEX, useExisting: REPOSITORY_INDEX },
      ],
      exports: [INNER_BLOBS, INNER_METADATA, INNER_REPOSITORY_INDEX],
    };
    return {
      module: UpstreamModule,
      imports: [inner],
      controllers: options.api ? [UpstreamsController] : [],
      providers: [
        { provide: REPOSITORY_INDEX, useExisting: INNER_REPOSITORY_INDEX },
        {
          provide: UpstreamStore,
          inject: [STORAGE, CONFIG],
          useFactory: (storage: StorageDriver, c: StevedoreConfig) =>
            new UpstreamStore(storage, new SecretBox(loadSecretKey(c.STEVEDORE_SECRET_KEY, c.STEVEDORE_DATA_DIR))),
        },
        {
          provide: UpstreamClients,
          inject: [UpstreamStore, CONFIG],
          useFactory: (store: UpstreamStore, c: StevedoreConfig) =>
            new UpstreamClients(store, { maxManifestBytes: c.STEVEDORE_MAX_MANIFEST_BYTES }),
        },
        { provide: ReplicationRuleStore, inject: [STORAGE], useFactory: (storage: StorageDriver) => new ReplicationRuleStore(storage) },
        {
          provide: ReplicationQueue,
          inject: [CONFIG, ReplicationRuleStore],
          useFactory: (c: StevedoreConfig, rules: ReplicationRuleStore) => new ReplicationQueue(c, rules),
        },
        {
          provide: BLOB_SERVICE,
          inject: [INNER_BLOBS, UpstreamStore, UpstreamClients, REDIS, RedisKeys],
          useFactory: (b: BlobService, s: UpstreamStore, cl: UpstreamClients, r: Redis, k: RedisKeys) =>
            new PullThroughBlobService(b, s, cl, r, k),
        },
        {
          provide: METADATA_SERVICE,
          inject: [INNER_METADATA, UpstreamStore, UpstreamClients, REDIS, RedisKeys, STORAGE, CONFIG, ReplicationQueue],
          useFactory: (
            m: MetadataService,
            s: UpstreamStore,
            cl: UpstreamClients,
            r: Redis,
            k: RedisKeys,
            storage: StorageDriver,
            c: StevedoreConfig,
            q: ReplicationQueue,
          ) =>
            new PullThroughMetadataService(
              m,
              s,
              cl,
              r,
              k,
              storage,
              { manifestTtlSeconds: c.STEVEDORE_UPSTREAM_MANIFEST_TTL_SECONDS },
              q.onTagWritten,
            ),
        },
        {
          provide: Replicator,
          inject: [BLOB_SERVICE, METADATA_SERVICE, UpstreamClients, REDIS, RedisKeys],
          useFactory: (b: BlobService, m: MetadataService, cl: UpstreamClients, r: Redis, k: RedisKeys) => new Replicator(b, m, cl, r, k),
        },
        {
          provide: UpstreamLifecycle,
          inject: [CONFIG, Replicator, UpstreamClients, ReplicationQueue, ReadinessChecks],
          useFactory: (c: StevedoreConfig, rep: Replicator, cl: UpstreamClients, q: ReplicationQueue, rc: ReadinessChecks) =>
            new UpstreamLifecycle(!!options.workers, c, rep, cl, q, rc),
        },
      ],
      exports: [BLOB_SERVICE, METADATA_SERVICE, REPOSITORY_INDEX, UpstreamStore, ReplicationQueue],
    };
  }
}
