// The producer side of queue `commit` (single commits and batch flows) and, on first use, the queue
// events that feed the SSE route. Held once per API process.
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { FlowProducer, Queue, QueueEvents } from 'bullmq';
import {
  CONFIG,
  QueueNames,
  createFlowProducer,
  createQueue,
  createQueueEvents,
  type StevedoreConfig,
  closeBullmq,
} from '@stevedore/platform';
import type { BatchJobData, BatchResult, CommitJobData, CommitResult } from './commit-job';

export type CommitQueueData = CommitJobData | BatchJobData;

declare module '@stevedore/platform' {
  interface JobTypes {
    commit: { data: CommitQueueData; result: CommitResult | BatchResult };
  }
}

@Injectable()
export class CommitQueues implements OnApplicationShutdown {
  readonly queue: Queue<CommitQueueData, CommitResult | BatchResult>;
  readonly flows: FlowProducer;
  private queueEvents?: QueueEvents;

  constructor(@Inject(CONFIG) private readonly config: StevedoreConfig) {
    this.queue = createQueue(config, QueueNames.commit);
    this.flows = createFlowProducer(config);
  }

  get events(): QueueEvents {
    if (!this.queueEvents) {
      this.queueEvents = createQueueEvents(this.config, QueueNames.commit);
      this.queueEvents.setMaxListeners(0);
      this.queueEvents.on('error', () => undefined);
    }
    return this.queueEvents;
  }

  /** Where a cancellation request for an active job is left for its worker. */
  cancelKey(id: string): string {
    return `${this.config.STEVEDORE_REDIS_PREFIX}:commit-cancel:${id}`;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.queue, this.flows, this.queueEvents].map((q) => closeBullmq(q, 1500)));
  }
}
