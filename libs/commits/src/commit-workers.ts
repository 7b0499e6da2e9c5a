// The commit worker (targets 'all' and 'commit-worker'): runs commit jobs and batch parents from
// queue `commit`. Bad input fails at once (UnrecoverableError); anything else is retried with
// exponential backoff, and a job whose worker died is taken over by another once its lock lapses.
// A job's pause on its container is released when the job is over, however it ends.
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import type Redis from 'ioredis';
import { BLOB_SERVICE, type BlobService } from '@stevedore/blobs';
import { CONTAINER_SERVICE, type ContainerService } from '@stevedore/containers';
import { RedisLayerSizeCache, imageKeys } from '@stevedore/images';
import { METADATA_SERVICE, type MetadataService } from '@stevedore/metadata';
import { RegistryError } from '@stevedore/oci';
import type { Digest } from '@stevedore/oci';
import {
  CONFIG,
  QueueNames,
  closeBullmq,
  REDIS,
  ReadinessChecks,
  RedisKeys,
  StevedoreMetrics,
  startWorker,
  jobFailure,
  parseJobFailure,
  runWithRequestId,
  type StevedoreConfig,
} from '@stevedore/platform';
import { buildCommit, type CommitDeps } from './commit-builder';
import type { BatchItem, BatchJobData, BatchResult, CommitJobData, CommitResult } from './commit-job';
import type { CommitQueueData } from './commit-queues';

/** Errors a retry cannot fix. */
const FINAL_CODES = new Set([
  'NAME_INVALID',
  'TAG_INVALID',
  'INVALID_REQUEST',
  'MANIFEST_INVALID',
  'NOT_FOUND',
  'CONFLICT',
  'DENIED',
  'UNAUTHORIZED',
]);

@Injectable()
export class CommitWorkers implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('commit-worker');
  private worker?: Worker<CommitQueueData, CommitResult | BatchResult>;
  private readonly deps: CommitDeps;
  private readonly redis: Redis;

  constructor(
    @Inject(CONFIG) private readonly config: StevedoreConfig,
    @Inject(CONTAINER_SERVICE) private readonly containers: ContainerService,
    @Inject(BLOB_SERVICE) blobs: BlobService,
    @Inject(METADATA_SERVICE) metadata: MetadataService,
    @Inject(REDIS) redis: Redis,
    @Inject(RedisKeys) keys: RedisKeys,
    @Inject(StevedoreMetrics) private readonly metrics: StevedoreMetrics,
    @Inject(ReadinessChecks) private readonly readiness: ReadinessChecks,
  ) {
    this.redis = redis;
    // Container contents are the containers service's: read through it (in-process here, or
    // metadata-service's over the internal API), never straight from storage.
    const content = {
      put: () => Promise.reject(new Error('a commit only reads container contents')),
      has: async () => true,
      open: async (d: Digest) => (await containers.openContent(d)).stream,
      readAll: (d: Digest) => containers.readContent(d),
    };
    this.deps = { blobs, metadata, sizes: new RedisLayerSizeCache(redis, imageKeys(keys).layerSizes()), content };
  }

  onModuleInit(): void {
    const lockMs = this.config.STEVEDORE_COMMIT_LOCK_SECONDS * 1000;
    // Ready once is not ready now: the worker's own Redis connection is a readiness check (its timeout bounds the wait).
    this.worker = startWorker(this.config, QueueNames.commit, (job) => this.process(job), {
      concurrency: this.config.STEVEDORE_COMMIT_CONCURRENCY,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      maxStalledCount: 3,
      log: this.logger,
      readiness: this.readiness,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await closeBullmq(this.worker, 2000);
  }

  private process(job: Job<CommitQueueData, CommitResult | BatchResult>): Promise<CommitResult | BatchResult> {
    return runWithRequestId(job.data.requestId, () =>
      job.data.kind === 'batch' ? this.runBatch(job as Job<BatchJobData>) : this.runCommit(job as Job<CommitJobData>),
    );
  }

  async runCommit(job: Job<CommitJobData>): Promise<CommitResult> {
    const started = Date.now();
    const d = job.data;
    const cancelKey = `${this.config.STEVEDORE_REDIS_PREFIX}:commit-cancel:${job.id}`;
    const client = this.redis;
    this.logger.log(
      `commit ${job.id} of container ${d.spec.container} as ${d.target.repository}:${d.target.tag} (attempt ${job.attemptsMade + 1}, request ${d.requestId ?? '-'})`,
    );
    let outcome = 'failed';
    let final = true;
    try {
      // Time spent per phase, for the log line (where does a slow commit spend it).
      const phases: string[] = [];
      let phase = '';
      let phaseStart = Date.now();
      const result = await buildCommit(this.deps, d, {
        onProgress: (p) => {
          if (p.phase !== phase) {
            if (phase) phases.push(`${phase} ${Date.now() - phaseStart}`);
            phase = p.phase;
            phaseStart = Date.now();
          }
          void job.updateProgress({ ...p }).catch(() => undefined);
        },
        checkCancelled: async () => {
          if (await client.get(cancelKey)) throw new RegistryError('CONFLICT', `commit ${job.id} was cancelled`, { cancelled: true });
        },
      });
      outcome = 'completed';
      this.logger.log(
        `commit ${job.id} -> ${result.reference}@${result.digest} in ${Date.now() - started} ms [${phases.join(', ')}] (request ${d.requestId ?? '-'})`,
      );
      return result;
    } catch (e) {
      const err = RegistryError.is(e) ? e : new RegistryError('INTERNAL', (e as Error)?.message ?? String(e));
      final = FINAL_CODES.has(err.code) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      outcome = final ? 'failed' : 'retried';
      this.logger.warn(`commit ${job.id} ${final ? 'failed' : 'will be retried'}: ${err.message} (request ${d.requestId ?? '-'})`);
      if (final) throw new UnrecoverableError(jobFailure(err));
      throw new Error(jobFailure(err));
    } finally {
      if (final && d.holder)
        await this.containers
          .release(d.spec.container, d.holder)
          .catch((e) => this.logger.warn(`release of ${d.spec.container}: ${(e as Error).message}`));
      if (final) await client.del(cancelKey).catch(() => undefined);
      this.metrics.jobs.inc({ queue: QueueNames.commit, outcome });
      this.metrics.jobDuration.observe({ queue: QueueNames.commit }, (Date.now() - started) / 1000);
      if (outcome !== 'retried') this.metrics.commits.inc({ outcome });
    }
  }

  /** Runs once every child is done: each child's digest or error, in the order they were asked for. */
  async runBatch(job: Job<BatchJobData>): Promise<BatchResult> {
    const values = (await job.getChildrenValues()) as Record<string, CommitResult>;
    const failures = await job.getIgnoredChildrenFailures();
    const byId = (m: Record<string, unknown>) => new Map(Object.entries(m).map(([k, v]) => [k.slice(k.lastIndexOf(':') + 1), v]));
    const ok = byId(values) as Map<string, CommitResult>;
    const bad = byId(failures) as Map<string, string>;
    const items: BatchItem[] = job.data.children.map((c) => {
      const r = ok.get(c.id);
      if (r) return { ...c, digest: r.digest };
      return { ...c, error: parseJobFailure(bad.get(c.id) ?? 'the job disappeared before it finished') };
    });
    items.push(...job.data.rejected);
    const succeeded = items.filter((i) => i.digest).length;
    this.metrics.jobs.inc({ queue: QueueNames.commit, outcome: 'completed' });
    this.logger.log(`batch ${job.id}: ${succeeded}/${items.length} committed (request ${job.data.requestId ?? '-'})`);
    return { total: items.length, succeeded, failed: items.length - succeeded, items };
  }
}
