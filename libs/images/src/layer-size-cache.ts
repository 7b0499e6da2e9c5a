// Uncompressed layer sizes (what `docker images` and `docker history` show) are not in any manifest;
// they are learned once by reading the layer, or while loading/importing it, and kept in Redis by
// digest (a digest's content never changes, so the entry never goes stale).
import type Redis from 'ioredis';
import type { Digest } from '@stevedore/oci';

export interface LayerSizeCache {
  get(digests: readonly Digest[]): Promise<Array<number | undefined>>;
  set(digest: Digest, size: number): Promise<void>;
}

export class RedisLayerSizeCache implements LayerSizeCache {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}
  async get(digests: readonly Digest[]): Promise<Array<number | undefined>> {
    if (!digests.length) return [];
    const vals = await this.redis.hmget(this.key, ...digests);
    return vals.map((v) => (v === null ? undefined : Number(v)));
  }
  async set(digest: Digest, size: number): Promise<void> {
    await this.redis.hset(this.key, digest, String(size));
  }
}

export class MemoryLayerSizeCache implements LayerSizeCache {
  readonly map = new Map<string, number>();
  async get(digests: readonly Digest[]): Promise<Array<number | undefined>> {
    return digests.map((d) => this.map.get(d));
  }
  async set(digest: Digest, size: number): Promise<void> {
    this.map.set(digest, size);
  }
}

export const LAYER_SIZES = Symbol('LayerSizeCache');
