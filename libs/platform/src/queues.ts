// BullMQ queues of the platform, named once. Every queue shares the deployment's Redis prefix so
// KEDA and dashboards find `<prefix>:<queue>:wait` (`{<prefix>}:<queue>:wait` on a Redis Cluster).
import {
  Queue,
  Worker,
  QueueEvents,
  FlowProducer,
  UnrecoverableError,
  type Job,
  type JobSchedulerTemplateOptions,
  type Processor,
  type RepeatOptions,
  type WorkerOptions,
  type ConnectionOptions,
} from 'bullmq';
import type { StevedoreConfig } from './config';
import type { ReadinessChecks } from './health.controller';
import { jobFailure, type JobTypes } from './jobs';
import { closeWithin, createRedisCluster, isRedisCluster, redisConnectionOptions } from './redis';

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
 * The prefix of BullMQ's keys. On a Redis Cluster it is a hash tag, `{<prefix>}`: BullMQ's scripts
 * touch many keys of a queue (and a flow's of several queues) at once, which a cluster allows only
 * within one slot (BullMQ's documented way). One Redis keeps the bare prefix, so the queues of
 * existing deployments are found where they are.
 */
export function queuePrefix(config: StevedoreConfig): string {
  return isRedisCluster(config.REDIS_URL) ? `{${config.STEVEDORE_REDIS_PREFIX}}` : config.STEVEDORE_REDIS_PREFIX;
}

/**
 * BullMQ needs its own connections, with no per-command retry limit (workers block on Redis). A
 * producer (a Queue that requests add jobs to) must fail fast instead: a command timeout, so a
 * request answers 503 when Redis is gone. On a cluster this is a Cluster client of its own (BullMQ
 * takes a cluster only as a client; `owned` closes it with the queue, as BullMQ leaves a client it
 * was given open).
 */
export function queueConnection(config: StevedoreConfig, role: 'worker' | 'producer' = 'worker'): ConnectionOptions {
  const timeout = role === 'producer' ? { commandTimeout: config.STEVEDORE_REDIS_COMMAND_TIMEOUT_MS } : {};
  if (isRedisCluster(config.REDIS_URL))
    return createRedisCluster(config.REDIS_URL, {
      // The offline queue stays, as below; BullMQ's own retries need no per-command limit.
      enableOfflineQueue: true,
      node: { maxRetriesPerRequest: null, ...timeout },
    });
  return {
    // The same Redis as the index connection: one primary, or the sentinels that name it.
    ...redisConnectionOptions(config.REDIS_URL),
    maxRetriesPerRequest: null,
    // The offline queue stays (a queue is used right after start, before its connection is up);
    // the timeout also runs for queued commands, so an outage still fails the request in time.
    ...timeout,
  };
}

// Connection errors of queues come by the thousand while Redis is down (every reconnect): the
// index connection reports the outage once (redis.ts), so these are only kept from crashing the
// process or printing stack traces.
const quiet = <Q extends { on(event: 'error', fn: (e: Error) => void): unknown }>(q: Q): Q => {
  q.on('error', () => undefined);
  return q;
};

/**
 * A queue, worker or event stream made on a client it was given (a cluster's) closes that client
 * after itself: BullMQ closes only connections it made.
 */
function owned<Q extends { close(...args: never[]): Promise<unknown>; disconnect(): Promise<unknown> }>(
  q: Q,
  connection: ConnectionOptions,
): Q {
  const client = connection as {
    isCluster?: boolean;
    quit?: () => Promise<unknown>;
    disconnect?: () => void;
    on?: (e: string, f: () => void) => void;
  };
  if (!client.isCluster) return q;
  client.on?.('error', () => undefined);
  const close = q.close.bind(q);
  const disconnect = q.disconnect.bind(q);
  // Arguments pass through (a worker's close(force)).
  q.close = (async (...args: never[]) => {
    try {
      return await close(...args);
    } finally {
      await client.quit!().catch(() => client.disconnect!());
    }
  }) as Q['close'];
  q.disconnect = async () => {
    try {
      return await disconnect();
    } finally {
      client.disconnect!();
    }
  };
  return q;
}

export function createQueue<N extends QueueName>(config: StevedoreConfig, name: N): Queue<JobData<N>, JobResult<N>> {
  const connection = queueConnection(config, 'producer');
  return owned(quiet(new Queue<JobData<N>, JobResult<N>>(name, { connection, prefix: queuePrefix(config) })), connection);
}

/**
 * `lastEventId`: where in the queue's event stream to start (BullMQ reads from '$', the events after
 * its first read; '0-0' also delivers those written before that read, for a caller that must not miss
 * the end of a job it adds right after connecting).
 */
export function createQueueEvents(config: StevedoreConfig, name: QueueName, options: { lastEventId?: string } = {}): QueueEvents {
  const connection = queueConnection(config);
  return owned(quiet(new QueueEvents(name, { connection, prefix: queuePrefix(config), ...options })), connection);
}

export function createFlowProducer(config: StevedoreConfig): FlowProducer {
  const connection = queueConnection(config, 'producer');
  return owned(quiet(new FlowProducer({ connection, prefix: queuePrefix(config) })), connection);
}

export function createWorker<N extends QueueName>(
  config: StevedoreConfig,
  name: N,
  processor: Processor<JobData<N>, JobResult<N>>,
  options: Partial<WorkerOptions> = {},
): Worker<JobData<N>, JobResult<N>> {
  const connection = queueConnection(config);
  return owned(
    new Worker<JobData<N>, JobResult<N>>(name, processor, {
      connection,
      prefix: queuePrefix(config),
      ...options,
    }),
    connection,
  );
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

/** Where a worker reports what goes wrong (a Nest Logger). */
export interface WorkerLog {
  warn(message: string): void;
}

/**
 * A worker as every service runs one: its connection errors logged, and (given `readiness`) its own
 * Redis connection one of the process's readiness checks, as `<queue>-queue`.
 */
export function startWorker<N extends QueueName>(
  config: StevedoreConfig,
  name: N,
  processor: Processor<JobData<N>, JobResult<N>>,
  { log, readiness, ...options }: Partial<WorkerOptions> & { log: WorkerLog; readiness?: ReadinessChecks },
): Worker<JobData<N>, JobResult<N>> {
  const worker = createWorker(config, name, processor, options);
  worker.on('error', (e) => log.warn(`${name} worker: ${e.message}`));
  readiness?.add(`${name}-queue`, workerReadiness(worker));
  return worker;
}

/**
 * A job handler whose failures are final: a failed run is not retried (a bad archive does not get
 * better, and a GC or consistency run is simply run again by its next schedule or request). The
 * failure is logged once and kept as the API's error body, so the status route shows it as the
 * API would (parseJobFailure).
 */
export function finalJob<D, R>(log: WorkerLog, run: (job: Job<D, R>) => Promise<R>): (job: Job<D, R>) => Promise<R> {
  return async (job) => {
    try {
      return await run(job);
    } catch (e) {
      log.warn(`${job.queueName} job ${job.id} failed: ${(e as Error).message}`);
      throw new UnrecoverableError(jobFailure(e));
    }
  };
}

/**
 * A queue that runs one job at a time across every replica (its global concurrency is 1), on a
 * schedule every worker process upserts alike under one scheduler id (so replicas share one
 * schedule, and a restart keeps it); `repeat` undefined removes the schedule.
 */
export async function scheduleSingleton<D, R>(
  queue: Queue<D, R, string, D, R, string>,
  schedulerId: string,
  repeat: Omit<RepeatOptions, 'key'> | undefined,
  template: { name: string; data: D; opts?: JobSchedulerTemplateOptions },
): Promise<void> {
  await queue.setGlobalConcurrency(1);
  if (repeat) await queue.upsertJobScheduler(schedulerId, repeat, template);
  else await queue.removeJobScheduler(schedulerId);
}
