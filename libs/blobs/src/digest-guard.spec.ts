// DigestGuard against a real Redis: writers are counted in and out, a success stamps the digest
// with Redis' clock, a writer waits for a sweep's lease (and gives up after its wait), and the
// check every GC script starts with (luaMayGo) answers busy / first seen / touched / may go.
import Redis from 'ioredis';
import { digestOf, type Digest } from '@stevedore/oci';
import { RedisKeys } from '@stevedore/platform';
import { startRedis, type RunningRedis } from '@stevedore/testing';
import { randomBytes } from 'node:crypto';
import { DigestGuard, luaMayGo } from './digest-guard';

let redisServer: RunningRedis;
let redis: Redis;
let guard: DigestGuard;
beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  guard = new DigestGuard(redis, new RedisKeys('digest-guard'), 300);
});
afterAll(async () => {
  redis?.disconnect();
  await redisServer?.stop();
});

const fresh = () => digestOf(randomBytes(16));
const stamp = async (d: Digest) => {
  const t = await redis.get(guard.touchedKey(d));
  return t === null ? undefined : Number(t);
};

describe('DigestGuard', () => {
  it('sweep: refused while a writer holds the digest; writers that begin under it wait until it ends, thrown or not', async () => {
    const d = fresh();
    await guard.begin([d]);
    let ran = false;
    expect(
      await guard.sweep(d, async () => {
        ran = true;
      }),
    ).toBeUndefined();
    expect(ran).toBe(false);
    await guard.end([d], false);

    const order: string[] = [];
    let writer: Promise<void> | undefined;
    expect(
      await guard.sweep(d, async () => {
        // A second sweep of the same digest is refused too.
        expect(await guard.sweep(d, async () => 'no')).toBeUndefined();
        writer = guard.hold([d], async () => {
          order.push('writer');
        });
        await new Promise((r) => setTimeout(r, 150));
        order.push('sweep');
        return 7;
      }),
    ).toEqual({ value: 7 });
    await writer;
    expect(order).toEqual(['sweep', 'writer']);
    expect(await redis.exists(guard.sweepingKey(d))).toBe(0);

    await expect(
      guard.sweep(d, async () => {
        throw new Error('storage failed');
      }),
    ).rejects.toThrow('storage failed');
    expect(await redis.exists(guard.sweepingKey(d))).toBe(0);
  });

  it('counts writers in and out, once per digest, and stamps only on success', async () => {
    const d = fresh();
    await guard.begin([d, d]);
    await guard.begin([d]);
    expect(await redis.get(guard.writingKey(d))).toBe('2');
    expect(await redis.ttl(guard.writingKey(d))).toBeGreaterThan(0);
    await guard.end([d], false);
    expect(await redis.get(guard.writingKey(d))).toBe('1');
    expect(await stamp(d)).toBeUndefined();
    const before = await guard.now();
    await guard.end([d, d], true);
    expect(await redis.exists(guard.writingKey(d))).toBe(0);
    expect(await stamp(d)).toBeGreaterThanOrEqual(before);
  });

  it('holds digests for the length of a function and stamps them only when it succeeds', async () => {
    const ok = fresh();
    const failed = fresh();
    expect(
      await guard.hold([ok], async () => {
        expect(await redis.get(guard.writingKey(ok))).toBe('1');
        return 'done';
      }),
    ).toBe('done');
    expect(await stamp(ok)).toBeDefined();
    await expect(
      guard.hold([failed], async () => {
        throw new Error('push failed');
      }),
    ).rejects.toThrow('push failed');
    expect(await redis.exists(guard.writingKey(failed))).toBe(0);
    expect(await stamp(failed)).toBeUndefined();
  });

  it('waits while a sweep holds the digest, and gives up after its wait without counting itself in', async () => {
    const d = fresh();
    const other = fresh();
    await redis.set(guard.sweepingKey(d), '1', 'EX', 60);
    const waiting = guard.begin([other, d]);
    await new Promise((r) => setTimeout(r, 100));
    await redis.del(guard.sweepingKey(d));
    await waiting;
    expect(await redis.get(guard.writingKey(d))).toBe('1');
    await guard.end([other, d], true);

    await redis.set(guard.sweepingKey(d), '1', 'EX', 60);
    await expect(guard.begin([other, d])).rejects.toMatchObject({ code: 'TOOMANYREQUESTS' });
    expect(await redis.exists(guard.writingKey(d), guard.writingKey(other))).toBe(0);
    await redis.del(guard.sweepingKey(d));
  });

  it('stamps digests without a writer (a reader that must keep them)', async () => {
    const many = Array.from({ length: 1500 }, fresh);
    const before = await guard.now();
    await guard.touch(many);
    const stamps = await Promise.all([many[0], many[1499]].map(stamp));
    for (const s of stamps) expect(s).toBeGreaterThanOrEqual(before);
    expect(await redis.exists(guard.writingKey(many[0]))).toBe(0);
  });

  it('keeps another family of keys apart', async () => {
    const d = fresh();
    const containers = new DigestGuard(redis, new RedisKeys('digest-guard'), 300, 'containers-gc');
    expect(containers.touchedKey(d)).not.toBe(guard.touchedKey(d));
    await containers.touch([d]);
    expect(await stamp(d)).toBeUndefined();
  });

  describe('luaMayGo', () => {
    // A script that only checks: 1 when the digest may go.
    const script = `${luaMayGo({ touched: 1, writing: 2, sweeping: 3 })}\nreturn 1`;
    const tableScript = `${luaMayGo({ touched: 1, writing: 2, sweeping: 3 }, (c) => `{${c}}`)}\nreturn {1}`;
    const mayGo = (d: Digest, olderThan: number, lua = script) =>
      redis.eval(lua, 3, guard.touchedKey(d), guard.writingKey(d), guard.sweepingKey(d), olderThan);

    it('answers first seen (and stamps), touched since the cutoff, busy, and otherwise may go', async () => {
      const d = fresh();
      expect(await mayGo(d, 0)).toBe(-2);
      const stamped = (await stamp(d))!;
      expect(stamped).toBeDefined();
      expect(await mayGo(d, stamped)).toBe(-3);
      expect(await mayGo(d, stamped + 1)).toBe(1);
      await guard.begin([d]);
      expect(await mayGo(d, stamped + 1)).toBe(-1);
      await guard.end([d], false);
      await redis.set(guard.sweepingKey(d), '1');
      expect(await mayGo(d, stamped + 1)).toBe(-1);
      expect(await mayGo(d, stamped + 1, tableScript)).toEqual([-1]);
      await redis.del(guard.sweepingKey(d));
      expect(await mayGo(d, stamped + 1, tableScript)).toEqual([1]);
    });
  });
});
