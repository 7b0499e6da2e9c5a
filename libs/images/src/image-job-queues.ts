// The producer side of the export and import queues, held once per API process.
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { CONFIG, QueueNames, createQueue, type StevedoreConfig, closeBullmq } from '@stevedore/platform';
import type { ExportJobData, ImportJobData } from './image-jobs';

@Injectable()
export class ImageJobQueues implements OnApplicationShutdown {
  readonly exports: Queue<ExportJobData>;
  readonly imports: Queue<ImportJobData>;
  constructor(@Inject(CONFIG) config: StevedoreConfig) {
    this.exports = createQueue(config, QueueNames.export);
    this.imports = createQueue(config, QueueNames.import);
  }
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.exports, this.imports].map((q) => closeBullmq(q, 1500)));
  }
}
