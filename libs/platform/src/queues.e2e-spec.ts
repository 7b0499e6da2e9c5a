// The worker helpers every queue's owner uses, on a real redis-server: finalJob's failures are final
// (one attempt, whatever `attempts` says) and keep the API's error body; scheduleSingleton leaves
// one schedule however many processes upsert it, runs one job at a time, and removes it when off.
import type { Queue, Worker } from 'bullmq';
import { RegistryError } from '@stevedore/oci';
import { startRedis, type RunningRedis } from '@stevedore/testing';
import { loadConfig, type StevedoreConfig } from './config';
import { parseJobFailure } from './jobs';
import { closeBullmq, createQueue, createQueueEvents, finalJob, scheduleSingleton, startWorker } from './queues';

jest.setTimeout(30_000);

describe('worker helpers', () => {
  let redis: RunningRedis;
  let config: StevedoreConfig;
  const closing: Array<Queue | Worker | { close(): Promise<unknown>; disconnect(): Promise<unknown> }> = [];

  beforeAll(async () => {
    redis = await startRedis();
    config = loadConfig({ REDIS_URL: redis.url, STEVEDORE_REDIS_PREFIX: 'queues-test' });
  });

  afterAll(async () => {
    for (const c of closing.reverse()) await closeBullmq(c, 2000);
    await redis?.stop();
  });

  it('finalJob: a failed job is not retried, its reason is the API error body, and it is logged once', async () => {
    const warned: string[] = [];
    let runs = 0;
    const queue = createQueue(config, 'export');
    const events = createQueueEvents(config, 'export', { lastEventId: '0-0' });
    const worker = startWorker(
      config,
      'export',
      finalJob<unknown, unknown>({ warn: (m) => warned.push(m) }, async (): Promise<unknown> => {
        runs++;
        throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: 'nope/nothing' });
      }),
      { log: { warn: (m) => warned.push(m) } },
    );
    closing.push(queue, events, worker);
    await events.waitUntilReady();
    const job = await queue.add('run', {} as never, { attempts: 3, backoff: { type: 'fixed', delay: 10 } });
    await expect(job.waitUntilFinished(events, 10_000)).rejects.toThrow();
    const failed = (await queue.getJob(job.id!))!;
    expect(runs).toBe(1);
    expect(failed.attemptsMade).toBe(1);
    expect(parseJobFailure(failed.failedReason)).toMatchObject({ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' });
    expect(warned).toEqual([`export job ${job.id} failed: repository name not known to registry`]);
  });

  it('scheduleSingleton: one schedule for every process that upserts it, one job at a time, none when off', async () => {
    const queues = [createQueue(config, 'gc'), createQueue(config, 'gc')];
    closing.push(...queues);
    const template = { name: 'run', data: { dryRun: true } as never };
    // Two processes start with the same schedule: one scheduler.
    await Promise.all(queues.map((q) => scheduleSingleton(q, 'gc-test-schedule', { pattern: '0 3 * * *' }, template)));
    expect((await queues[0].getJobSchedulers()).map((s) => [s.key, s.pattern])).toEqual([['gc-test-schedule', '0 3 * * *']]);
    expect(await queues[0].getGlobalConcurrency()).toBe(1);

    // One at a time across workers: two workers, three jobs, never two running together.
    let running = 0;
    let most = 0;
    const slow = async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 150));
      running--;
      return {} as never;
    };
    const workers = [0, 1].map(() => startWorker(config, 'gc', slow, { concurrency: 2, log: { warn: () => undefined } }));
    closing.push(...workers);
    const events = createQueueEvents(config, 'gc', { lastEventId: '0-0' });
    closing.push(events);
    await events.waitUntilReady();
    const jobs = await Promise.all([1, 2, 3].map(() => queues[1].add('run', { dryRun: true } as never)));
    await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 10_000)));
    expect(most).toBe(1);

    // Turned off (a process starts with the schedule off): no scheduler left.
    await scheduleSingleton(queues[1], 'gc-test-schedule', undefined, template);
    expect(await queues[0].getJobSchedulers()).toEqual([]);
  });
});
