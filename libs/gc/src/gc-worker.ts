// The `gc` queue's worker and its schedule, wherever the target runs workers ('all', 'commit-worker').
// One run at a time across every replica (the queue's global concurrency is 1); a failed run is
// final, since the next schedule or request simply runs it again and nothing half-done needs a retry.
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Worker } from 'bullmq';
import {
  CONFIG,
  QueueNames,
  ReadinessChecks,
  closeBullmq,
  finalJob,
  scheduleSingleton,
  startWorker,
  type StevedoreConfig,
} from '@stevedore/platform';
import { GarbageCollector } from './garbage-collector';
import { GcQueue, GC_JOB_OPTIONS, GC_SCHEDULER_ID } from './gc-queue';
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
    const schedule = this.config.STEVEDORE_GC_SCHEDULE.trim();
    await scheduleSingleton(this.queue.queue, GC_SCHEDULER_ID, schedule && schedule !== 'off' ? { pattern: schedule } : undefined, {
      name: 'run',
      data: { dryRun: false, scheduled: true },
      opts: GC_JOB_OPTIONS,
    });
    this.worker = startWorker(
      this.config,
      QueueNames.gc,
      finalJob(this.logger, (job) => this.collector.run(job.data, (phase) => void job.updateProgress({ phase }).catch(() => undefined))),
      { concurrency: 1, log: this.logger, readiness: this.readiness },
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await closeBullmq(this.worker, 2000);
  }
}
