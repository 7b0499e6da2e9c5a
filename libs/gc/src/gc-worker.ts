// The `gc` queue's worker and its schedule, wherever the target runs workers ('all', 'commit-worker').
// One run at a time across every replica (the queue's global concurrency is 1).
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import {
  CONFIG,
  QueueNames,
  ReadinessChecks,
  createWorker,
  jobFailure,
  workerReadiness,
  type StevedoreConfig,
  closeBullmq,
} from '@stevedore/platform';
import { GarbageCollector } from './garbage-collector';
import { GcQueue, GC_SCHEDULER_ID } from './gc-queue';
import type { GcReport, GcRunRequest } from './gc-run';

@Injectable()
export class GcWorker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('gc');
  private worker?: Worker<GcRunRequest, GcReport>;

  constructor(
    @Inject(CONFIG) private readonly config: StevedoreConfig,
    private readonly collector: GarbageCollector,
    private readonly queue: GcQueue,
    @Inject(ReadinessChecks) private readonly readiness: ReadinessChecks,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.queue.queue.setGlobalConcurrency(1);
    const schedule = this.config.STEVEDORE_GC_SCHEDULE.trim();
    if (schedule && schedule !== 'off') {
      await this.queue.queue.upsertJobScheduler(
        GC_SCHEDULER_ID,
        { pattern: schedule },
        { name: 'run', data: { dryRun: false, scheduled: true }, opts: { removeOnComplete: { count: 200 }, removeOnFail: { count: 200 } } },
      );
    } else {
      await this.queue.queue.removeJobScheduler(GC_SCHEDULER_ID);
    }
    this.worker = createWorker(this.config, QueueNames.gc, (job) => this.process(job), { concurrency: 1 });
    this.worker.on('error', (e) => this.logger.warn(`gc worker: ${e.message}`));
    this.readiness.add('gc-queue', workerReadiness(this.worker));
  }

  private async process(job: Job<GcRunRequest, GcReport>): Promise<GcReport> {
    try {
      return await this.collector.run(job.data, (phase) => void job.updateProgress({ phase }).catch(() => undefined));
    } catch (e) {
      this.logger.warn(`gc run ${job.id} failed: ${(e as Error).message}`);
      // A failed run is simply run again by the next schedule or request; nothing half-done needs a retry.
      throw new UnrecoverableError(jobFailure(e));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await closeBullmq(this.worker, 2000);
  }
}
