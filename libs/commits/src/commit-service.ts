// Submitting commits: validate the target and the changes, pause the container when asked, take the
// read-write layer as it is now, and queue the job under its idempotent id; a batch is one BullMQ
// flow whose parent waits for every child and collects what each one gave.
import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import { CONTAINER_SERVICE, containerNotFound, type ContainerService } from '@stevedore/containers';

import { RegistryError, applyChanges, parseLocalReference } from '@stevedore/oci';
import type Redis from 'ioredis';
import { REDIS, currentRequestId } from '@stevedore/platform';
import {
  COMMIT_ATTEMPTS,
  JOB_RETENTION_SECONDS,
  batchJobId,
  commitJobId,
  commitTime,
  type BatchItem,
  type CommitJobData,
  type CommitSpec,
  type CommitTarget,
} from './commit-job';
import { CommitQueues } from './commit-queues';
import { jobNotFound } from './job-status';

export function parseTarget(reference: string): CommitTarget {
  const ref = parseLocalReference(reference, { defaultTag: true });
  if (ref.digest) throw new RegistryError('TAG_INVALID', 'a commit target is repository:tag, not a digest', { reference });
  return { repository: ref.name, tag: ref.tag ?? 'latest' };
}

/** How the platform queues a commit: the test rig replays jobs with the same options. */
export const commitJobOptions = (id: string) => ({
  jobId: id,
  attempts: COMMIT_ATTEMPTS,
  backoff: { type: 'exponential' as const, delay: 1000 },
  removeOnComplete: { age: JOB_RETENTION_SECONDS },
  removeOnFail: { age: JOB_RETENTION_SECONDS },
});

export interface Submitted {
  id: string;
  /** False when an identical commit was already queued or done; its job is returned. */
  created: boolean;
}

@Injectable()
export class CommitService {
  constructor(
    private readonly queues: CommitQueues,
    @Inject(CONTAINER_SERVICE) private readonly containers: ContainerService,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  /** Everything checkable before a job exists, so bad input is a 4xx now rather than a failed job. */
  private validate(spec: CommitSpec): CommitTarget {
    const target = parseTarget(spec.reference);
    applyChanges({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } } as never, spec.changes);
    return target;
  }

  private async prepare(spec: CommitSpec, created: string, owner: string | undefined): Promise<{ id: string; data: CommitJobData }> {
    const target = this.validate(spec);
    const holder = spec.pause ? `commit-hold-${randomUUID()}` : undefined;
    const snap = await this.containers.snapshot(spec.container, holder);
    const data: CommitJobData = {
      kind: 'commit',
      spec,
      target,
      image: snap.record.image,
      generation: snap.record.generation,
      entries: snap.entries,
      created,
    };
    if (holder) data.holder = holder;
    if (owner) data.owner = owner;
    const rid = currentRequestId();
    if (rid) data.requestId = rid;
    return { id: commitJobId(data), data };
  }

  /** An identical job exists (and has not failed): give up our own pause and use it. */
  private async existing(id: string, data: CommitJobData): Promise<boolean> {
    const job = await this.queues.queue.getJob(id);
    if (!job) return false;
    const state = await job.getState();
    if (state === 'failed') {
      await job.remove().catch(() => undefined);
      return false;
    }
    if (data.holder) await this.containers.release(data.spec.container, data.holder);
    return true;
  }

  async submit(spec: CommitSpec, owner?: string): Promise<Submitted> {
    const { id, data } = await this.prepare(spec, commitTime(), owner);
    try {
      if (await this.existing(id, data)) return { id, created: false };
      await this.queues.queue.add('commit', data, commitJobOptions(id));
    } catch (e) {
      if (data.holder) await this.containers.release(spec.container, data.holder).catch(() => undefined);
      throw e;
    }
    return { id, created: true };
  }

  /** `hidden`: containers the caller may not see, rejected exactly as missing ones are. */
  async submitBatch(
    specs: CommitSpec[],
    options: { owner?: string; hidden?: ReadonlySet<string> } = {},
  ): Promise<{ id: string; children: BatchItem[] }> {
    const created = commitTime();
    const children: Array<{ id: string; data: CommitJobData }> = [];
    const rejected: BatchItem[] = [];
    const seen = new Set<string>();
    for (const spec of specs) {
      try {
        if (options.hidden?.has(spec.container)) throw containerNotFound(spec.container);
        const p = await this.prepare(spec, created, options.owner);
        if (seen.has(p.id)) {
          if (p.data.holder) await this.containers.release(spec.container, p.data.holder);
          continue;
        }
        seen.add(p.id);
        children.push(p);
      } catch (e) {
        const err = RegistryError.is(e) ? e : new RegistryError('INTERNAL', (e as Error).message);
        rejected.push({ id: '', reference: spec.reference, error: err.toJSON() });
      }
    }
    const id = batchJobId([...children.map((c) => c.id), ...rejected.map((r) => `rejected:${r.reference}`), created]);
    const items: BatchItem[] = children.map((c) => ({ id: c.id, reference: `${c.data.target.repository}:${c.data.target.tag}` }));
    await this.queues.flows.add({
      name: 'batch',
      queueName: this.queues.queue.name,
      data: {
        kind: 'batch',
        count: specs.length,
        created,
        children: items,
        rejected,
        ...(currentRequestId() ? { requestId: currentRequestId() } : {}),
        ...(options.owner ? { owner: options.owner } : {}),
      },
      opts: { jobId: id, removeOnComplete: { age: JOB_RETENTION_SECONDS }, removeOnFail: { age: JOB_RETENTION_SECONDS } },
      children: children.map((c) => ({
        name: 'commit',
        queueName: this.queues.queue.name,
        data: c.data,
        opts: { ...commitJobOptions(c.id), ignoreDependencyOnFailure: true },
      })),
    });
    return { id, children: [...items, ...rejected] };
  }

  /** Cancel: a queued job is removed (and its pause released); a running one is asked to stop. */
  async cancel(id: string): Promise<'removed' | 'cancelling'> {
    const job = await this.queues.queue.getJob(id);
    if (!job) throw jobNotFound(id);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') throw new RegistryError('CONFLICT', `job ${id} has already ${state}`, { state });
    if (state === 'active') {
      await this.redis.set(this.queues.cancelKey(id), '1', 'EX', 3600);
      return 'cancelling';
    }
    await this.release(job);
    try {
      await job.remove({ removeChildren: true });
    } catch (e) {
      // A batch whose commit is running: BullMQ will not remove a parent while a child holds its
      // lock. That is the caller's conflict, not a server fault: say what to do instead.
      if (/locked/i.test((e as Error)?.message ?? ''))
        throw new RegistryError(
          'CONFLICT',
          `job ${id} has a commit running: cancel its commits one by one (DELETE /api/v1/jobs/<commit id>) or wait for them`,
          { state },
        );
      throw e;
    }
    return 'removed';
  }

  private async release(job: Job): Promise<void> {
    const d = job.data as CommitJobData;
    if (d?.kind === 'commit' && d.holder) await this.containers.release(d.spec.container, d.holder).catch(() => undefined);
  }
}
