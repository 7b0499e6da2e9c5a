// A small map kept durably in storage (one JSON object), with a Redis hash as its index: storage is
// written first, so losing Redis loses nothing; a Redis hash without the marker field was lost or
// flushed and is rebuilt from storage before it is read. For rarely written operator settings
// (retention rules, quota limits), read on every request through Redis.
import type Redis from 'ioredis';
import type { StorageDriver } from '@stevedore/storage';

// A field no key can be (keys are repository patterns and namespace names).
const INDEXED = '#indexed';

export class DurableHash {
  constructor(
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    /** The storage object (e.g. `gc/retention.json`). */
    private readonly path: string,
    /** The Redis hash. */
    readonly key: string,
  ) {}

  private async stored(): Promise<Record<string, string>> {
    const raw = await this.storage.getContent(this.path).catch(() => undefined);
    return raw ? (JSON.parse(raw.toString()) as Record<string, string>) : {};
  }

  /** Rebuild the Redis hash from storage when it lost its contents; returns the entries. */
  async load(): Promise<Record<string, string>> {
    const all = await this.redis.hgetall(this.key);
    if (all[INDEXED] !== undefined) {
      delete all[INDEXED];
      return all;
    }
    const fromStorage = await this.stored();
    await this.redis.hset(this.key, { ...fromStorage, [INDEXED]: '1' });
    return fromStorage;
  }

  async set(field: string, value: string): Promise<void> {
    const all = await this.stored();
    all[field] = value;
    await this.storage.putContent(this.path, JSON.stringify(all));
    await this.load();
    await this.redis.hset(this.key, field, value);
  }

  /** Whether the field existed. */
  async delete(field: string): Promise<boolean> {
    const all = await this.stored();
    const had = field in all;
    delete all[field];
    if (had) await this.storage.putContent(this.path, JSON.stringify(all));
    await this.load();
    return (await this.redis.hdel(this.key, field)) > 0 || had;
  }
}
