// The push side of online garbage collection. Every write that makes a digest's bytes or index
// appear, or that references a digest (upload completion, mount, manifest PUT, tag), runs between
// `begin` and `end`:
//   begin: waits while GC is sweeping the digest, then counts a writer in (`gc:writing:<d>`);
//   end:   counts the writer out and stamps `gc:touched:<d>` with Redis' clock.
// GC deletes a digest only in one atomic script that sees no writer, no sweep, and a stamp older
// than its grace cutoff (taken from Redis' clock when the run began), and that sets the sweep lease
// before anything is removed. So a digest is never deleted while a push is writing or referencing
// it, and once that push has ended its stamp is newer than the start of any run that could still
// miss the push's manifest in its mark.
import { digestGuardKeys } from './blob-layout';
import type Redis from 'ioredis';
import { RegistryError, type Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';

const BEGIN = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1`;

const END = `
local n = redis.call('DECR', KEYS[1])
if n <= 0 then redis.call('DEL', KEYS[1]) end
if ARGV[1] == '1' then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], t[1] * 1000 + math.floor(t[2] / 1000))
end
return n`;

const TOUCH = `
local t = redis.call('TIME')
redis.call('SET', KEYS[1], t[1] * 1000 + math.floor(t[2] / 1000))
return 1`;

/**
 * The check every GC script starts with (Lua, placed at the head of a sweep script): a digest is
 * busy while a writer or another sweep holds it (-1); kept and stamped now when first seen (-2);
 * kept when touched since the cutoff ARGV[1] (-3); otherwise the script goes on to remove it.
 * `ret` gives a code the script's return shape (`{-1}` for scripts that return a table).
 */
export function luaMayGo(keys: { touched: number; writing: number; sweeping: number }, ret: (code: number) => string = String): string {
  return `
if redis.call('EXISTS', KEYS[${keys.writing}]) == 1 or redis.call('EXISTS', KEYS[${keys.sweeping}]) == 1 then return ${ret(-1)} end
local t = redis.call('GET', KEYS[${keys.touched}])
if not t then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[${keys.touched}], now[1] * 1000 + math.floor(now[2] / 1000))
  return ${ret(-2)}
end
if tonumber(t) >= tonumber(ARGV[1]) then return ${ret(-3)} end`;
}

// A sweep lease without GC's stamp checks, for a removal that must not race a writer (the
// consistency pass dropping an index entry storage no longer backs). KEYS: writing, sweeping.
// ARGV: lease seconds. 1 when the lease is taken, 0 when a writer or another sweep holds the digest.
const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
return 1`;

/** Seconds a sweep lease outlives a crashed collector (writers of that digest wait at most this long). */
export const SWEEP_LEASE_SECONDS = 600;

/** Seconds a writer count outlives a crashed writer (its digest is kept from GC that long). */
const WRITER_TTL_SECONDS = 3600;

export class DigestGuard {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    /** How long a writer waits for a sweep of the same digest to finish before giving up. */
    private readonly waitMs = 60_000,
    /**
     * The key family of the guarded store: 'gc' for registry blobs and manifests; another store of
     * content-addressed bytes (container contents) guards its digests apart, so neither GC's stamps
     * keep the other's bytes.
     */
    family = 'gc',
  ) {
    this.k = digestGuardKeys(keys, family);
  }

  private readonly k: ReturnType<typeof digestGuardKeys>;
  touchedKey(d: string): string {
    return this.k.touched(d);
  }
  writingKey(d: string): string {
    return this.k.writing(d);
  }
  sweepingKey(d: string): string {
    return this.k.sweeping(d);
  }
  /** The three keys luaMayGo checks for `d`, in the order every GC script places them: touched, writing, sweeping. */
  mayGoKeys(d: string): [touched: string, writing: string, sweeping: string] {
    return [this.k.touched(d), this.k.writing(d), this.k.sweeping(d)];
  }

  /** Redis' clock in ms: the one clock every stamp and cutoff is taken from. */
  async now(): Promise<number> {
    const [s, us] = await this.redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }

  async begin(digests: Digest[]): Promise<void> {
    const unique = [...new Set(digests)];
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const got = await Promise.all(
        unique.map((d) => this.redis.eval(BEGIN, 2, this.sweepingKey(d), this.writingKey(d), WRITER_TTL_SECONDS) as Promise<number>),
      );
      if (got.every((g) => g === 1)) return;
      await this.release(
        unique.filter((_, i) => got[i] === 1),
        false,
      );
      if (Date.now() > deadline) {
        throw new RegistryError('TOOMANYREQUESTS', 'a blob of this push is being garbage collected; retry', {
          digests: unique.filter((_, i) => got[i] !== 1),
        });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Count the writers out; `touch` (on success) stamps the digests as referenced now. */
  async end(digests: Digest[], touch: boolean): Promise<void> {
    await this.release([...new Set(digests)], touch);
  }

  /** Stamp digests as referenced now, without a writer (a reader that must keep them, e.g. a commit's snapshot). */
  async touch(digests: Iterable<Digest>): Promise<void> {
    const unique = [...new Set(digests)];
    // One script per digest (one key, one slot), not a pipeline: a cluster pipeline must keep to one
    // slot. On a single Redis, auto-pipelining sends a chunk together; a cluster connection does not
    // auto-pipeline (libs/platform redis.ts), so there each is its own round trip, a chunk in flight at once.
    for (let i = 0; i < unique.length; i += 1000) {
      await Promise.all(unique.slice(i, i + 1000).map((d) => this.redis.eval(TOUCH, 1, this.touchedKey(d))));
    }
  }

  private async release(digests: Digest[], touch: boolean): Promise<void> {
    await Promise.all(digests.map((d) => this.redis.eval(END, 2, this.writingKey(d), this.touchedKey(d), touch ? '1' : '0')));
  }

  /**
   * Run `fn` under a sweep lease on `digest`, as GC's sweeps do: taken only while no writer holds
   * the digest, and every writer that begins meanwhile waits for it (begin). So a check of storage
   * made inside `fn` cannot be overtaken by a push of the digest (pushes write storage before
   * Redis, as writers). Undefined, without running `fn`, when the digest is busy.
   */
  async sweep<T>(digest: Digest, fn: () => Promise<T>): Promise<{ value: T } | undefined> {
    const got = (await this.redis.eval(CLAIM, 2, this.writingKey(digest), this.sweepingKey(digest), SWEEP_LEASE_SECONDS)) as number;
    if (got !== 1) return undefined;
    try {
      return { value: await fn() };
    } finally {
      await this.redis.del(this.sweepingKey(digest));
    }
  }

  /** Run `fn` as a writer of `digests`; stamps them only when it succeeds. */
  async hold<T>(digests: Digest[], fn: () => Promise<T>): Promise<T> {
    await this.begin(digests);
    let ok = false;
    try {
      const r = await fn();
      ok = true;
      return r;
    } finally {
      await this.end(digests, ok);
    }
  }
}
