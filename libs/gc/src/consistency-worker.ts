// The `consistency` queue's worker and its schedule, wherever the target runs workers ('all',
// 'commit-worker'): every STEVEDORE_CONSISTENCY_INTERVAL a BullMQ job scheduler adds one run for
// the whole deployment (one scheduler id, upserted by every worker process alike), and the queue's
// global concurrency of 1 runs one pass at a time across every replica. Each run is counted in
// the metrics and logged in one summary line.
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Job, Worker } from 'bullmq';
import { ConsistencyPass, type ConsistencyReport } from '@stevedore/metadata';
import {
  CONFIG,
  QueueNames,
  ReadinessChecks,
  StevedoreMetrics,
  closeBullmq,
  finalJob,
  scheduleSingleton,
  startWorker,
  type StevedoreConfig,
} from '@stevedore/platform';
import { CONSISTENCY_JOB_OPTIONS, CONSISTENCY_SCHEDULER_ID, ConsistencyQueue, type ConsistencyJobData } from './consistency-queue';

@Injectable()
export class ConsistencyWorker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('consistency');
  private worker?: Worker<ConsistencyJobData, ConsistencyReport>;

  constructor(
    @Inject(CONFIG) private readonly config: StevedoreConfig,
    private readonly pass: ConsistencyPass,
    private readonly metrics: StevedoreMetrics,
    private readonly queue: ConsistencyQueue,
    @Inject(ReadinessChecks) private readonly readiness: ReadinessChecks,
  ) {}

  async onModuleInit(): Promise<void> {
    const seconds = this.config.STEVEDORE_CONSISTENCY_INTERVAL;
    const every = Math.round(seconds * 1000);
    // The first run one interval after the scheduler first exists (BullMQ would run an `every`
    // scheduler at once): a deployment's start is not a pass. Upserting again (every process,
    // every restart) with the same interval keeps the schedule it has.
    await scheduleSingleton(
      this.queue.queue,
      CONSISTENCY_SCHEDULER_ID,
      seconds > 0 ? { every, startDate: Date.now() + every } : undefined,
      {
        name: 'run',
        data: { dryRun: false, scheduled: true },
        opts: CONSISTENCY_JOB_OPTIONS,
      },
    );
    // Failures are final: the next scheduled run or request simply runs it again, and every repair stands on its own.
    this.worker = startWorker(
      this.config,
      QueueNames.consistency,
      finalJob(this.logger, (job) => this.process(job)),
      { concurrency: 1, log: this.logger, readiness: this.readiness },
    );
  }

  private async process(job: Job<ConsistencyJobData, ConsistencyReport>): Promise<ConsistencyReport> {
    const end = this.metrics.consistencyDuration.startTimer();
    try {
      const report = await this.pass.run({
        dryRun: job.data.dryRun,
        onProgress: (repositories) => void job.updateProgress({ repositories }).catch(() => undefined),
      });
      this.metrics.consistencyLastRun.set(Date.now() / 1000);
      this.metrics.consistencyFound.set(report.found);
      const kinds = Object.entries(report.byKind)
        .map(([k, c]) => `${k} +${c.add} -${c.remove} ~${c.correct}`)
        .join(', ');
      this.logger.log(
        `consistency pass${report.dryRun ? ' (dry run)' : ''}${job.data.scheduled ? ' (scheduled)' : ''}: ` +
          `${report.repositories} repositories, ${report.found} differences, ${report.repaired} repaired` +
          `${report.takenBack ? `, ${report.takenBack} taken back` : ''}${kinds ? ` (${kinds})` : ''} in ${report.durationMs} ms`,
      );
      return report;
    } finally {
      end();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await closeBullmq(this.worker, 2000);
  }
}
