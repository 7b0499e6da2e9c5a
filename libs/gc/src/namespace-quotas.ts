// Storage quotas per namespace (the first component of a repository name). Usage counts each
// digest (blob or manifest) once per namespace however many of its repositories hold it. Blob
// upload completion, mount and manifest PUT reserve through BLOB_QUOTA before linking; a reserve
// that would pass the limit is DENIED. GC recounts usage exactly from what is left after a sweep
// (between runs, deletions are not subtracted, so usage errs high, never low).
import type { NamespaceQuota } from '@stevedore/api-contract';
import { QUOTA_LIMITS_PATH, gcKeys } from './gc-layout';
import type Redis from 'ioredis';
import { RegistryError } from '@stevedore/oci';
import { scanKeys, type RedisKeys } from '@stevedore/platform';
import type { BlobInfo, BlobQuota } from '@stevedore/blobs';
import type { StorageDriver } from '@stevedore/storage';
import { DurableHash } from './durable-hash';

export function namespaceOf(repository: string): string {
  return repository.split('/')[0];
}

// KEYS: counted digests of the namespace, used (the namespace's {ns} slot). ARGV: digest, size,
// limit ('' for none). Returns 0 when counted (or already counted), else {used, limit}. The limit is
// read just before, not in the script: the limits hash is global (its own slot on a Redis Cluster),
// and a limit set a moment before or after a reserve is one either order allows.
const RESERVE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit = ARGV[3]
if limit ~= '' and used + tonumber(ARGV[2]) > tonumber(limit) then return {used, tonumber(limit)} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCRBY', KEYS[2], ARGV[2])
return 0`;

/** A namespace's limit and usage, as the API shows it (the contract's NamespaceQuota). */
export type { NamespaceQuota };

function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export { QUOTA_LIMITS_PATH } from './gc-layout';

export class NamespaceQuotas implements BlobQuota {
  // Limits are durable in storage; the Redis hash (read by RESERVE on every upload) is their index,
  // rebuilt from storage when Redis lost it (at start, and on the next read).
  private readonly limits: DurableHash;
  constructor(
    storage: StorageDriver,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.limits = new DurableHash(storage, redis, QUOTA_LIMITS_PATH, gcKeys(keys).quotaLimits());
  }

  /** Rebuild the limits index if Redis lost it (called at start). */
  async reindexLimits(): Promise<void> {
    await this.limits.load();
  }

  private limitsKey(): string {
    return gcKeys(this.keys).quotaLimits();
  }
  private countedKey(ns: string): string {
    return gcKeys(this.keys).quotaDigests(ns);
  }
  private usedKey(ns: string): string {
    return gcKeys(this.keys).quotaUsed(ns);
  }

  async reserve(name: string, blob: BlobInfo): Promise<void> {
    const ns = namespaceOf(name);
    const limitNow = (await this.redis.hget(this.limitsKey(), ns)) ?? '';
    const r = (await this.redis.eval(RESERVE, 2, this.countedKey(ns), this.usedKey(ns), blob.digest, String(blob.size), limitNow)) as
      0 | [number, number];
    if (r === 0) return;
    const [used, limit] = r;
    throw new RegistryError(
      'DENIED',
      `storage quota of namespace "${ns}" exceeded: ${human(used)} used + ${human(blob.size)} for ${blob.digest} > ${human(limit)} limit`,
      { namespace: ns, usedBytes: used, requestedBytes: blob.size, limitBytes: limit },
    );
  }

  async get(ns: string): Promise<NamespaceQuota> {
    return this.quotaOf(ns, await this.limits.load());
  }

  private async quotaOf(ns: string, limits: Record<string, string>): Promise<NamespaceQuota> {
    const q: NamespaceQuota = { namespace: ns, usedBytes: Number((await this.redis.get(this.usedKey(ns))) ?? 0) };
    if (limits[ns] !== undefined) q.limitBytes = Number(limits[ns]);
    return q;
  }

  async list(): Promise<NamespaceQuota[]> {
    // One read of the limits for the whole list, not one per namespace.
    const limits = await this.limits.load();
    return Promise.all(
      Object.keys(limits)
        .sort()
        .map((n) => this.quotaOf(n, limits)),
    );
  }

  async setLimit(ns: string, limitBytes: number): Promise<NamespaceQuota> {
    if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(ns)) throw new RegistryError('INVALID_REQUEST', 'invalid namespace', { namespace: ns });
    if (!Number.isSafeInteger(limitBytes) || limitBytes < 0)
      throw new RegistryError('INVALID_REQUEST', 'limitBytes must be a non-negative integer', { limitBytes });
    await this.limits.set(ns, String(limitBytes));
    return this.get(ns);
  }

  async removeLimit(ns: string): Promise<void> {
    if (!(await this.limits.delete(ns))) throw new RegistryError('NOT_FOUND', 'no quota for that namespace', { namespace: ns });
  }

  /** Namespaces with a usage counter (some of which GC may not reach through the catalog). */
  async counted(): Promise<string[]> {
    const [prefix, suffix] = this.usedKey('\u0000').split('\u0000');
    const out: string[] = [];
    // Every master's counters on a cluster (each namespace's keys are in its own slot).
    for await (const keys of scanKeys(this.redis, this.usedKey('*')))
      for (const k of keys) if (k.startsWith(prefix) && k.endsWith(suffix)) out.push(k.slice(prefix.length, k.length - suffix.length));
    return out;
  }

  /** Uncount digests that are gone everywhere (namespaces GC cannot recount from the catalog). */
  async forget(ns: string, digests: Iterable<string>): Promise<number> {
    const counted = await this.redis.hgetall(this.countedKey(ns));
    const gone = [...digests].filter((d) => counted[d] !== undefined);
    if (gone.length) {
      const freed = gone.reduce((n, d) => n + Number(counted[d]), 0);
      await this.redis
        .multi()
        .hdel(this.countedKey(ns), ...gone)
        .decrby(this.usedKey(ns), freed)
        .exec();
    }
    return Number((await this.redis.get(this.usedKey(ns))) ?? 0);
  }

  /** Replace a namespace's usage with an exact count (digest -> size). */
  async recount(ns: string, sizes: Map<string, number>): Promise<number> {
    let total = 0;
    const m = this.redis.multi().del(this.countedKey(ns));
    const entries = [...sizes];
    for (let i = 0; i < entries.length; i += 1000) {
      const chunk = entries.slice(i, i + 1000);
      m.hset(this.countedKey(ns), ...chunk.flatMap(([d, s]) => [d, String(s)]));
    }
    for (const [, s] of entries) total += s;
    m.set(this.usedKey(ns), total);
    await m.exec();
    return total;
  }
}
