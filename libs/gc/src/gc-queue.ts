// The producer side of the `gc` queue: on-demand runs and their status.
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import { RegistryError } from '@stevedore/oci';
import {
  CONFIG,
  QueueNames,
  createQueue,
  findJob,
  jobStatusOf,
  type JobState,
  type JobStatus,
  type StevedoreConfig,
  closeBullmq,
} from '@stevedore/platform';
import type { GcReport, GcRunRequest } from './gc-run';

/** A GC run as its routes answer: the common job status (its result is the run's report) and what was asked. */
export type GcRunStatus = JobStatus<'gc', { phase: string }, GcReport> & { request: GcRunRequest };

/** Id of the repeatable job scheduler (BullMQ) that starts scheduled runs. */
export const GC_SCHEDULER_ID = 'gc-scheduled';

/** Runs on demand and scheduled ones alike: the last 200 of each outcome stay listed (GET /api/v1/gc/runs). */
export const GC_JOB_OPTIONS = { removeOnComplete: { count: 200 }, removeOnFail: { count: 200 } };

@Injectable()
export class GcQueue implements OnApplicationShutdown {
  readonly queue: Queue<GcRunRequest, GcReport>;
  constructor(@Inject(CONFIG) config: StevedoreConfig) {
    this.queue = createQueue(config, QueueNames.gc);
  }

  async enqueue(request: GcRunRequest): Promise<GcRunStatus> {
    const job = await this.queue.add('run', request, GC_JOB_OPTIONS);
    return this.view(job);
  }

  async status(id: string): Promise<GcRunStatus> {
    const found = await findJob(this.queue, id);
    if (!found) throw new RegistryError('NOT_FOUND', 'GC run unknown', { id: String(id).slice(0, 80) });
    return this.view(found.job, found.state);
  }

  async recent(n = 20): Promise<GcRunStatus[]> {
    const jobs = await this.queue.getJobs(['active', 'waiting', 'delayed', 'completed', 'failed'], 0, n - 1);
    const views = await Promise.all(jobs.filter((j): j is Job<GcRunRequest, GcReport> => !!j).map((j) => this.view(j)));
    return views.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, n);
  }

  private async view(job: Job<GcRunRequest, GcReport>, state?: JobState): Promise<GcRunStatus> {
    return {
      ...jobStatusOf<'gc', { phase: string }, GcReport>('gc', job, state ?? ((await job.getState()) as JobState)),
      request: job.data,
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await closeBullmq(this.queue, 1500);
  }
}
