// What every layer-storage spec runs against: one real redis-server for the file, and each storage
// driver in turn (a temp directory, and a bucket on the shared S3), with a Redis prefix per driver
// so both suites share the one Redis.
import { Readable } from 'node:stream';
import type Redis from 'ioredis';
import { RedisKeys } from '@stevedore/platform';
import { createStorageDriver, type StorageDriver } from '@stevedore/storage';
import { openTestRedis, startTestRedis, testStorage } from '@stevedore/testing';

export interface DriverContext {
  kind: 'filesystem' | 's3';
  storage: StorageDriver;
  redis: Redis;
  keys: RedisKeys;
}

/** `describe` once per storage driver; `ctx` is filled in before the first test of each. */
export function describeEachDriver(title: string, tests: (ctx: DriverContext) => void): void {
  jest.setTimeout(120_000);
  // STEVEDORE_TEST_REDIS=cluster: a 3+3 Redis Cluster instead (keys then tagged as on a cluster).
  let redisServer: Awaited<ReturnType<typeof startTestRedis>>;
  beforeAll(async () => {
    redisServer = await startTestRedis();
  });
  afterAll(async () => {
    await redisServer?.stop();
  });

  describe.each(['filesystem', 's3'] as const)(`${title} (%s)`, (kind) => {
    const ctx = { kind } as DriverContext;
    let close: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      const t = await testStorage(kind, title.toLowerCase());
      ctx.storage = await createStorageDriver(t.options);
      close = async () => {
        await ctx.storage.close?.();
        await t.close();
      };
      ctx.redis = await openTestRedis(redisServer.url);
      ctx.keys = new RedisKeys(`${title}-${kind}`, redisServer.cluster);
    });
    afterAll(async () => {
      ctx.redis?.disconnect();
      await close?.();
    });
    tests(ctx);
  });
}

export const body = (b: Buffer) => Readable.from([b]);

export async function read(s: Readable | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s!) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The error code a promise rejects with, or undefined when it resolves. */
export const code = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: { code?: string }) => e.code,
  );

/** Redis' clock in ms, which every stamp and cutoff is taken from. */
export async function redisNow(redis: Redis): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Every path storage holds under `prefix`. */
export async function paths(storage: StorageDriver, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const f of storage.list(prefix)) out.push(f.path);
  return out.sort();
}
