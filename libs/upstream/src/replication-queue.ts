// The `replicate` queue: enqueue (API and rules), status, and the worker that runs Replicator.
import { createHash } from 'node:crypto';
import { ReplicateRequestSchema } from '@stevedore/api-contract';
import { Logger } from '@nestjs/common';
import type { Job, Queue, Worker } from 'bullmq';
import { RegistryError, isValidTag, parseLocalReference, type Digest } from '@stevedore/oci';
import {
  QueueNames,
  createQueue,
  startWorker,
  type ReadinessChecks,
  findJob,
  jobFailure,
  jobStatusOf,
  parseJobFailure,
  type JobStatus,
  type StevedoreConfig,
  closeBullmq,
} from '@stevedore/platform';
import type { ReplicateJobData, ReplicateProgress, ReplicateResult, Replicator } from './replicator';
import { targetRepository, type ReplicationRuleStore } from './replication-rules';

/** A replication as its routes answer: the common job status and what it copies where. */
export type ReplicationStatus = JobStatus<'replicate', ReplicateProgress, ReplicateResult> & { data: ReplicateJobData };

declare module '@stevedore/platform' {
  interface JobTypes {
    replicate: { data: ReplicateJobData; result: ReplicateResult };
  }
}

const JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
} as const;

export class ReplicationQueue {
  private readonly logger = new Logger('replicate');
  private readonly queue: Queue<ReplicateJobData, ReplicateResult>;

  constructor(
    config: StevedoreConfig,
    private readonly rules: ReplicationRuleStore,
  ) {
    this.queue = createQueue(config, QueueNames.replicate);
  }

  async enqueue(data: ReplicateJobData, jobId?: string): Promise<string> {
    const job = await this.queue.add('replicate', data, { ...JOB_OPTIONS, jobId });
    return job.id!;
  }

  async status(id: string): Promise<ReplicationStatus> {
    const found = await findJob(this.queue, id);
    if (!found) throw new RegistryError('NOT_FOUND', `no replication job "${String(id).slice(0, 100)}"`);
    return { ...jobStatusOf<'replicate', ReplicateProgress, ReplicateResult>('replicate', found.job, found.state), data: found.job.data };
  }

  /** The rule hook: called after a tag write succeeds; enqueues one job per matching rule. */
  readonly onTagWritten = async (name: string, tag: string, digest: Digest): Promise<void> => {
    for (const rule of await this.rules.matching(name, tag)) {
      const target = { upstream: rule.target.upstream, name: targetRepository(rule, name), tag };
      // Same rule, tag and digest -> same job id: a retried push does not replicate twice.
      const jobId =
        'rule-' +
        createHash('sha256')
          .update(JSON.stringify([rule.id, name, tag, digest]))
          .digest('hex')
          .slice(0, 32);
      await this.enqueue({ source: { name, digest }, target, rule: rule.id }, jobId);
      this.logger.log(`rule ${rule.id}: ${name}:${tag} -> ${rule.target.upstream}/${target.name}:${tag}`);
    }
  };

  async close(): Promise<void> {
    await closeBullmq(this.queue, 1500);
  }
}

/** Parse the API's `{source: "name:tag" | "name@digest", target: {upstream, name, tag?}}`. */
export function replicateRequest(body: unknown): ReplicateJobData {
  const parsed = ReplicateRequestSchema.safeParse(body ?? {});
  if (!parsed.success) throw new RegistryError('INVALID_REQUEST', 'expected {source: "name:tag", target: {upstream, name, tag?}}');
  const b = parsed.data;
  // Local names are plain repository paths: no Docker registry/library defaults.
  const source = parseLocalReference(b.source, { defaultTag: true });
  const target = parseLocalReference(b.target.name);
  if (target.tag || target.digest)
    throw new RegistryError('INVALID_REQUEST', 'target.name is a repository name; give the tag as target.tag');
  const out: ReplicateJobData = { source, target: { upstream: b.target.upstream, name: target.name } };
  if (b.target.tag !== undefined) {
    isValidTag(b.target.tag);
    out.target.tag = b.target.tag;
  }
  return out;
}

export function startReplicationWorker(
  config: StevedoreConfig,
  replicator: Replicator,
  readiness: ReadinessChecks,
): Worker<ReplicateJobData, ReplicateResult> {
  const logger = new Logger('replicate');
  const worker = startWorker(
    config,
    QueueNames.replicate,
    async (job: Job<ReplicateJobData, ReplicateResult>) => {
      try {
        const r = await replicator.replicate(job.data, (p) => job.updateProgress(p));
        logger.log(
          `${job.data.source.name}@${r.digest} -> ${r.target} (${r.blobs.uploaded} uploaded, ${r.blobs.mounted} mounted, ${r.blobs.existing} there)`,
        );
        return r;
      } catch (e) {
        // Kept as the error's body, so the status shows its code and message (retries still apply).
        throw new Error(jobFailure(e));
      }
    },
    { concurrency: config.STEVEDORE_REPLICATE_CONCURRENCY, log: logger, readiness },
  );
  worker.on('failed', (job, e) =>
    logger.warn(`job ${job?.id} attempt ${job?.attemptsMade} failed: ${parseJobFailure(e.message)?.message}`),
  );
  return worker;
}
