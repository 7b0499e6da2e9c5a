// BullMQ queues of the platform, named once. Every queue shares the deployment's Redis prefix so
// KEDA and dashboards find `<prefix>:<queue>:wait`.
import { Queue, Worker, QueueEvents, FlowProducer, type Processor, type WorkerOptions, type ConnectionOptions } from 'bullmq';
import type { StevedoreConfig } from './config';
import type { JobTypes } from './jobs';
import { closeWithin, redisConnectionOptions } from './redis';

export const QueueNames = {
  commit: 'commit',
  export: 'export',
  import: 'import',
  gc: 'gc',
  consistency: 'consistency',
  replicate: 'replicate',
} as const;
export type QueueName = (typeof QueueNames)[keyof typeof QueueNames];

/** The payload and result a queue's jobs carry, as the owning lib declared them in JobTypes. */
export type JobData<N extends QueueName> = N extends keyof JobTypes ? (JobTypes[N] extends { data: infer D } ? D : unknown) : unknown;
export type JobResult<N extends QueueName> = N extends keyof JobTypes ? (JobTypes[N] extends { result: infer R } ? R : unknown) : unknown;

/**
 * BullMQ needs its own connections, with no per-command retry limit (workers block on Redis). A
 * producer (a Queue that requests add jobs to) must fail fast instead: a command timeout, so a
 * request answers 503 when Redis is gone.
 */
export function queueConnection(config: StevedoreConfig, role: 'worker' | 'producer' = 'worker'): ConnectionOptions {
  return {
    // The same Redis as the index connection: one primary, or the sentinels that name it.
    ...redisConnectionOptions(config.REDIS_URL),
    maxRetriesPerRequest: null,
    // The offline queue stays (a queue is used right after start, before its connection is up);
    // the timeout also runs for queued commands, so an outage still fails the request in time.
    ...(role === 'producer' ? { commandTimeout: config.STEVEDORE_REDIS_COMMAND_TIMEOUT_MS } : {}),
  };
}

// Connection errors of queues come by the thousand while Redis is down (every reconnect): the
// index connection reports the outage once (redis.ts), so these are only kept from crashing the
// process or printing stack traces.
const quiet = <Q extends { on(event: 'error', fn: (e: Error) => void): unknown }>(q: Q): Q => {
  q.on('error', () => undefined);
  return q;
};

export function createQueue<N extends QueueName>(config: StevedoreConfig, name: N): Queue<JobData<N>, JobResult<N>> {
  return quiet(
    new Queue<JobData<N>, JobResult<N>>(name, { connection: queueConnection(config, 'producer'), prefix: config.STEVEDORE_REDIS_PREFIX }),
  );
}

export function createQueueEvents(config: StevedoreConfig, name: QueueName): QueueEvents {
  return quiet(new QueueEvents(name, { connection: queueConnection(config), prefix: config.STEVEDORE_REDIS_PREFIX }));
}

export function createFlowProducer(config: StevedoreConfig): FlowProducer {
  return quiet(new FlowProducer({ connection: queueConnection(config, 'producer'), prefix: config.STEVEDORE_REDIS_PREFIX }));
}

export function createWorker<N extends QueueName>(
  config: StevedoreConfig,
  name: N,
  processor: Processor<JobData<N>, JobResult<N>>,
  options: Partial<WorkerOptions> = {},
): Worker<JobData<N>, JobResult<N>> {
  return new Worker<JobData<N>, JobResult<N>>(name, processor, {
    connection: queueConnection(config),
    prefix: config.STEVEDORE_REDIS_PREFIX,
    ...options,
  });
}

/**
 * A worker's readiness check (ReadinessChecks): the worker runs and its own Redis connection
 * answers. The index connection answering says nothing of it: BullMQ's connections are separate and
 * reconnect on their own.
 */
export function workerReadiness(worker: Worker): () => Promise<void> {
  return async () => {
    if (!worker.isRunning()) throw new Error(`the ${worker.name} worker is not running`);
    await (await worker.getBackend().client).runCommand('ping', []);
  };
}

/** Close a BullMQ queue, worker or event stream within `ms`, disconnecting it when it is late (bounded shutdown). */
export async function closeBullmq(c: { close(): Promise<unknown>; disconnect(): Promise<unknown> } | undefined, ms: number): Promise<void> {
  if (c)
    await closeWithin(
      ms,
      () => c.close(),
      () => c.disconnect(),
    );
}
