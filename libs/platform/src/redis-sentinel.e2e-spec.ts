// REDIS_URL=redis+sentinel://: real processes on free loopback ports (a primary, its replica and a
// redis-sentinel), connected through the platform's own factories: the index connection
// (connectRedis) and BullMQ's (queueConnection). The primary is then killed (SIGKILL) and both must
// carry on with the replica the sentinel promotes, within a bounded time.
import { Queue, QueueEvents, Worker } from 'bullmq';
import type Redis from 'ioredis';
import { startRedis, startSentinel, waitFor, type RunningRedis } from '@stevedore/testing';
import { loadConfig } from './config';
import { queueConnection } from './queues';
import { connectRedis } from './redis';

jest.setTimeout(60_000);

/** Failover: 1 s until the sentinel calls the primary down, then its election and promotion. */
const RECOVERY_BOUND_MS = 15_000;

describe('Redis Sentinel (redis+sentinel://)', () => {
  let primary: RunningRedis;
  let replica: RunningRedis;
  let sentinel: RunningRedis;
  let redis: Redis | undefined;
  let queue: Queue | undefined;
  let events: QueueEvents | undefined;
  let worker: Worker | undefined;
  const logged: string[] = [];

  beforeAll(async () => {
    primary = await startRedis();
    replica = await startRedis({ replicaOf: primary.port });
    sentinel = await startSentinel({ masterName: 'stevedore', masterPort: primary.port, downAfterMs: 1000, failoverTimeoutMs: 3000 });
    // The sentinel learns of the replica from the primary's INFO; with no replica known there is nothing to promote.
    const { default: IORedis } = await import('ioredis');
    const admin = new IORedis(sentinel.port, '127.0.0.1');
    try {
      await waitFor(async () => {
        const replicas = (await admin.call('SENTINEL', 'REPLICAS', 'stevedore')) as string[][];
        return replicas.some(
          (r) => r[r.indexOf('port') + 1] === String(replica.port) && !r[r.indexOf('flags') + 1].includes('disconnected'),
        );
      }, 20_000);
    } finally {
      admin.disconnect();
    }
  });

  afterAll(async () => {
    redis?.disconnect();
    await worker?.close(true).catch(() => undefined);
    await events?.close().catch(() => undefined);
    await queue?.close().catch(() => undefined);
    for (const r of [sentinel, replica, primary]) await r?.stop();
  });

  it('connects through the sentinel, and follows the primary to the promoted replica when it is killed', async () => {
    const url = `redis+sentinel://127.0.0.1:${sentinel.port}/stevedore`;
    const config = loadConfig({ REDIS_URL: url, STEVEDORE_REDIS_PREFIX: 'sentinel-test' });
    redis = await connectRedis(config.REDIS_URL, { commandTimeoutMs: 1500, log: (m) => logged.push(m) });
    const port = async (r: Redis): Promise<number> => Number(((await r.config('GET', 'port')) as string[])[1]);

    // The index connection: on the primary the sentinel names.
    expect(await port(redis)).toBe(primary.port);
    await redis.set('sentinel-test:k', 'before');
    expect(await redis.get('sentinel-test:k')).toBe('before');

    // BullMQ, through the same factory as every platform queue and worker.
    const connection = queueConnection(config, 'producer');
    expect(connection).toMatchObject({ sentinels: [{ host: '127.0.0.1', port: sentinel.port }], name: 'stevedore' });
    queue = new Queue('sentinel-test', { connection, prefix: config.STEVEDORE_REDIS_PREFIX });
    events = new QueueEvents('sentinel-test', { connection: queueConnection(config), prefix: config.STEVEDORE_REDIS_PREFIX });
    worker = new Worker('sentinel-test', async (job) => `done ${job.data.n}`, {
      connection: queueConnection(config),
      prefix: config.STEVEDORE_REDIS_PREFIX,
    });
    queue.on('error', () => undefined);
    events.on('error', () => undefined);
    worker.on('error', () => undefined);
    await events.waitUntilReady();
    const first = await queue.add('j', { n: 1 });
    expect(await first.waitUntilFinished(events, 10_000)).toBe('done 1');

    // Everything written so far is on the replica before the primary dies.
    const { default: IORedis } = await import('ioredis');
    const direct = new IORedis(replica.port, '127.0.0.1', { lazyConnect: true });
    try {
      await waitFor(async () => (await direct.get('sentinel-test:k')) === 'before', 10_000);
    } finally {
      direct.disconnect();
    }
    await primary.kill();
    const killedAt = Date.now();

    await waitFor(async () => {
      try {
        await redis!.set('sentinel-test:k2', 'after');
        return true;
      } catch {
        return false;
      }
    }, RECOVERY_BOUND_MS);
    const recoveredMs = Date.now() - killedAt;
    console.log(`index connection recovered on the promoted replica ${recoveredMs} ms after SIGKILL of the primary`);
    expect(recoveredMs).toBeLessThan(RECOVERY_BOUND_MS);
    expect(await port(redis)).toBe(replica.port);
    expect(await redis.get('sentinel-test:k')).toBe('before');
    expect(await redis.get('sentinel-test:k2')).toBe('after');
    // The outage was logged, and its end.
    expect(logged.some((m) => /unreachable/.test(m))).toBe(true);

    // BullMQ's connections moved too: a job added now is processed by the same worker.
    let second: Awaited<ReturnType<Queue['add']>> | undefined;
    await waitFor(async () => {
      second = await queue!.add('j', { n: 2 }).catch(() => undefined);
      return second !== undefined;
    }, RECOVERY_BOUND_MS);
    expect(await second!.waitUntilFinished(events, RECOVERY_BOUND_MS)).toBe('done 2');
    console.log(`BullMQ job processed on the promoted replica ${Date.now() - killedAt} ms after SIGKILL of the primary`);
  });
});
