// The producer side of the `gc` queue: on-demand runs and their status.
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import { RegistryError } from '@stevedore/oci';
import { CONFIG, QueueNames, createQueue, type StevedoreConfig, closeWithin } from '@stevedore/platform';
import type { GcReport, GcRunRequest } from './gc-run';

export interface GcRunStatus {
  id: string;
  state: string;
  request: GcRunRequest;
  progress?: unknown;
  createdAt: string;
  finishedAt?: string;
  report?: GcReport;
  error?: string;
}

/** Id of the repeatable job scheduler (BullMQ) that starts scheduled runs. */
export const GC_SCHEDULER_ID = 'gc-scheduled';

@Injectable()
export class GcQueue implements OnApplicationShutdown {
  readonly queue: Queue<GcRunRequest, GcReport>;
  constructor(@Inject(CONFIG) config: StevedoreConfig) {
    this.queue = createQueue<GcRunRequest, GcReport>(config, QueueNames.gc);
  }

  async enqueue(request: GcRunRequest): Promise<GcRunStatus> {
    const job = await this.queue.add('run', request, { removeOnComplete: { count: 200 }, removeOnFail: { count: 200 } });
    return this.view(job);
  }

  async status(id: string): Promise<GcRunStatus> {
    // State first, then the job: a job read before it completed would show no report.
    const state = await this.queue.getJobState(id);
    const job = await this.queue.getJob(id);
    if (!job || state === 'unknown') throw new RegistryError('NOT_FOUND', 'GC run unknown', { id });
    return this.view(job, state);
  }

  async recent(n = 20): Promise<GcRunStatus[]> {
    const jobs = await this.queue.getJobs(['active', 'waiting', 'delayed', 'completed', 'failed'], 0, n - 1);
    const views = await Promise.all(jobs.filter((j): j is Job<GcRunRequest, GcReport> => !!j).map((j) => this.view(j)));
    return views.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, n);
  }

  private async view(job: Job<GcRunRequest, GcReport>, state?: string): Promise<GcRunStatus> {
    const s: GcRunStatus = { id: String(job.id), state: state ?? (await job.getState()), request: job.data, createdAt: new Date(job.timestamp).toISOString() };
    if (job.progress !== undefined && job.progress !== 0) s.progress = job.progress;
    if (job.finishedOn) s.finishedAt = new Date(job.finishedOn).toISOString();
    if (job.returnvalue) s.report = job.returnvalue;
    if (job.failedReason) s.error = job.failedReason;
    return s;
  }

  async onApplicationShutdown(): Promise<void> {
    await closeWithin(1500, () => this.queue.close(), () => this.queue.disconnect());
  }
}
