// BullMQ queues of the platform, named once. Every queue shares the deployment's Redis prefix so
// KEDA and dashboards find `<prefix>:<queue>:wait`.
import { Queue, Worker, QueueEvents, FlowProducer, type Processor, type WorkerOptions, type ConnectionOptions } from 'bullmq';
import type { StevedoreConfig } from './config';

export const QueueNames = {
  commit: 'commit',
  export: 'export',
  import: 'import',
  gc: 'gc',
  replicate: 'replicate',
} as const;
export type QueueName = (typeof QueueNames)[keyof typeof QueueNames];

/** BullMQ needs its own connections, with no per-command retry limit (blocking commands). */
export function queueConnection(config: StevedoreConfig): ConnectionOptions {
  const u = new URL(config.REDIS_URL);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: u.username || undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined,
    maxRetriesPerRequest: null,
  };
}

export function createQueue<T = unknown, R = unknown>(config: StevedoreConfig, name: QueueName): Queue<T, R> {
  return new Queue<T, R>(name, { connection: queueConnection(config), prefix: config.STEVEDORE_REDIS_PREFIX });
}

export function createQueueEvents(config: StevedoreConfig, name: QueueName): QueueEvents {
  return new QueueEvents(name, { connection: queueConnection(config), prefix: config.STEVEDORE_REDIS_PREFIX });
}

export function createFlowProducer(config: StevedoreConfig): FlowProducer {
  return new FlowProducer({ connection: queueConnection(config), prefix: config.STEVEDORE_REDIS_PREFIX });
}

export function createWorker<T = unknown, R = unknown>(
  config: StevedoreConfig,
  name: QueueName,
  processor: Processor<T, R>,
  options: Partial<WorkerOptions> = {},
): Worker<T, R> {
  return new Worker<T, R>(name, processor, { connection: queueConnection(config), prefix: config.STEVEDORE_REDIS_PREFIX, ...options });
}
