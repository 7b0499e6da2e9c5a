// The producer side of the `consistency` queue: on-demand passes (the admin route, which waits for
// the run to finish for a while) and the runs' status. The scheduled runs are the worker's job
// scheduler (consistency-worker.ts); the queue's global concurrency of 1 keeps passes from
// overlapping across every replica.
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue, QueueEvents } from 'bullmq';
import type { ConsistencyRunRequest } from '@stevedore/api-contract';
import type { ConsistencyReport } from '@stevedore/metadata';
import {
  CONFIG,
  QueueNames,
  closeBullmq,
  createQueue,
  createQueueEvents,
  jobStatusOf,
  type JobState,
  type JobStatus,
  type StevedoreConfig,
} from '@stevedore/platform';

/** A pass as the job carries it. */
export interface ConsistencyJobData {
  dryRun: boolean;
  scheduled?: boolean;
}

declare module '@stevedore/platform' {
  interface JobTypes {
    consistency: { data: ConsistencyJobData; result: ConsistencyReport };
  }
}

export type ConsistencyRunStatus = JobStatus<'consistency', { repositories: number }, ConsistencyReport> & {
  request: ConsistencyJobData;
};

/** Id of the job scheduler (BullMQ) that starts the periodic passes. */
export const CONSISTENCY_SCHEDULER_ID = 'consistency-scheduled';

export const CONSISTENCY_JOB_OPTIONS = { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } };

@Injectable()
export class ConsistencyQueue implements OnApplicationShutdown {
  readonly queue: Queue<ConsistencyJobData, ConsistencyReport>;
  private queueEvents?: QueueEvents;

  constructor(@Inject(CONFIG) private readonly config: StevedoreConfig) {
    this.queue = createQueue(config, QueueNames.consistency);
  }

  private async events(): Promise<QueueEvents> {
    if (!this.queueEvents) {
      // From the event stream's start, not from '$' (BullMQ's default): waitUntilReady does not wait
      // for the first XREAD, so with '$' a pass that finished before that read had its event missed
      // and the first run() of a process waited out its waitSeconds for nothing. The stream is short
      // (a few events per pass, passes are rare and BullMQ trims it), and listeners filter by job id,
      // so reading the old events once costs little and changes nothing.
      this.queueEvents = createQueueEvents(this.config, QueueNames.consistency, { lastEventId: '0-0' });
      this.queueEvents.setMaxListeners(0);
      this.queueEvents.on('error', () => undefined);
    }
    await this.queueEvents.waitUntilReady();
    return this.queueEvents;
  }

  /** Start a pass and wait up to `waitSeconds` for it; the run as it is then (finished or not). */
  async run(request: ConsistencyRunRequest): Promise<ConsistencyRunStatus> {
    // Listening before the job exists, so its end is not missed.
    const events = request.waitSeconds > 0 ? await this.events() : undefined;
    const job = await this.queue.add('run', { dryRun: request.dryRun }, CONSISTENCY_JOB_OPTIONS);
    if (events) await job.waitUntilFinished(events, request.waitSeconds * 1000).catch(() => undefined);
    return this.view(job);
  }

  async recent(n = 20): Promise<ConsistencyRunStatus[]> {
    const jobs = await this.queue.getJobs(['active', 'waiting', 'delayed', 'completed', 'failed'], 0, n - 1);
    const views = await Promise.all(jobs.filter((j): j is Job<ConsistencyJobData, ConsistencyReport> => !!j).map((j) => this.view(j)));
    return views.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, n);
  }

  private async view(job: Job<ConsistencyJobData, ConsistencyReport>): Promise<ConsistencyRunStatus> {
    // Read again: the job as the worker left it (result, failure, progress).
    const state = (await this.queue.getJobState(String(job.id))) as JobState;
    const fresh = (await this.queue.getJob(String(job.id))) ?? job;
    const request: ConsistencyJobData = { dryRun: fresh.data.dryRun };
    if (fresh.data.scheduled) request.scheduled = true;
    return { ...jobStatusOf<'consistency', { repositories: number }, ConsistencyReport>('consistency', fresh, state), request };
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.queue, this.queueEvents].map((q) => closeBullmq(q, 1500)));
  }
}
