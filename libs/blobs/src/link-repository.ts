// Repository links: which blobs a repository may see. Each link is an object in storage
// (repositories/<name>/_layers/<alg>/<hex>/link, the source of truth) and a member of the
// repository's `repo:{name}:layers` set in Redis (what readers ask; rebuilt from the objects).
import type Redis from 'ioredis';
import { RegistryError, type Digest } from '@stevedore/oci';
import { LRUCache } from 'lru-cache';
import { unlessRedisUnavailable, type RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { blobKeys, blobPaths, type BlobKeys } from './blob-layout';
import type { BlobInfo } from './blob-service';
import type { DigestGuard } from './digest-guard';

export class LinkRepository {
  private readonly k: BlobKeys;
  /** Links storage did not have a moment ago (read repair). */
  private readonly misses = new LRUCache<string, true>({ max: 10_000, ttl: 2000 });

  constructor(
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    keys: RedisKeys,
  ) {
    this.k = blobKeys(keys);
  }

  /** The blob if it is linked into `name` and exists, in one round trip (the hot read path). */
  async stat(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    // Two slots on a cluster (the repository's, the digest's): two commands, sent together by
    // auto-pipelining. Not a MULTI: either fact read a moment apart is one a reader could have seen.
    const [linked, size] = await Promise.all([
      this.redis.sismember(this.k.layers(name), digest),
      this.redis.hget(this.k.blob(digest), 'size'),
    ]);
    return linked && size !== null ? { digest, size: Number(size) } : undefined;
  }

  /**
   * `stat` for a pull (GET): a link Redis lost (a failover that dropped acknowledged writes, a
   * flushed Redis) but storage holds, with the blob's data, is indexed again and served. Run as a
   * DigestGuard writer, so a GC sweep of the blob waits for it or it for the sweep; checked again
   * after the write-back, so a link removed meanwhile is taken back out. Not on HEAD: pushes ask
   * HEAD about every blob they are about to send, and those misses must stay one Redis read.
   */
  async statOrRepair(name: string, digest: Digest, guard: DigestGuard, onRepair?: () => void): Promise<BlobInfo | undefined> {
    // Redis gone for the moment: a pull still gets what storage links (nothing written back).
    const info = await unlessRedisUnavailable(this.stat(name, digest), async (e) => {
      const stored = await this.statStored(name, digest);
      if (!stored) throw e;
      return stored;
    });
    if (info) return info;
    const key = `${name}\0${digest}`;
    if (this.misses.has(key)) return undefined;
    const repaired = await guard
      .hold([digest], async () => {
        const stored = await this.statStored(name, digest);
        if (!stored) return undefined;
        // Two keys in two hash slots: two commands, blob record first (a link is only read with it).
        await this.redis.hset(this.k.blob(digest), 'size', String(stored.size));
        await this.redis.sadd(this.k.layers(name), digest);
        if (await this.hasStoredLink(name, digest)) return stored;
        await this.redis.srem(this.k.layers(name), digest);
        return undefined;
      })
      .catch(() => undefined);
    if (!repaired) {
      this.misses.set(key, true);
      return undefined;
    }
    onRepair?.();
    return repaired;
  }

  /** What storage says of a repository's blob, Redis aside: linked there and its data present. */
  private async statStored(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    const [linked, data] = await Promise.all([this.hasStoredLink(name, digest), this.storage.stat(blobPaths.blobData(digest))]);
    return linked && data ? { digest, size: data.size } : undefined;
  }

  /** Link object first, then the index: a link Redis shows always has its object for reindex. */
  async link(name: string, digest: Digest): Promise<void> {
    await this.storage.putContent(blobPaths.layerLink(name, digest), digest);
    await this.redis.sadd(this.k.layers(name), digest);
  }

  /** BLOB_UNKNOWN when the blob is not linked; the index goes first so readers miss before the object does. */
  async unlink(name: string, digest: Digest): Promise<void> {
    const removed = await this.redis.srem(this.k.layers(name), digest);
    if (!removed) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
    await this.storage.delete(blobPaths.layerLink(name, digest));
  }

  /** The digests storage links into `name` (its link objects, parsed as reindex parses them). */
  async storedLinks(name: string): Promise<Set<Digest>> {
    const out = new Set<Digest>();
    for await (const f of this.storage.list(blobPaths.layersRoot(name))) {
      const link = blobPaths.parseLayerLink(f.path);
      if (link && link.name === name) out.add(link.digest);
    }
    return out;
  }

  /** Whether storage holds the link object of `digest` in `name`. */
  async hasStoredLink(name: string, digest: Digest): Promise<boolean> {
    return (await this.storage.stat(blobPaths.layerLink(name, digest))) !== undefined;
  }

  /** Whether Redis links `digest` into `name` (the set alone, whether or not the blob record is there). */
  async isIndexed(name: string, digest: Digest): Promise<boolean> {
    return (await this.redis.sismember(this.k.layers(name), digest)) === 1;
  }

  /** For the consistency pass: drop the index entry alone (its object is gone already). */
  async forget(name: string, digest: Digest): Promise<void> {
    await this.redis.srem(this.k.layers(name), digest);
  }

  async listLinks(name: string): Promise<Digest[]> {
    return (await this.redis.smembers(this.k.layers(name))) as Digest[];
  }

  /** Index every link object whose blob `exists` (run after the blob index is rebuilt); returns how many. */
  async reindex(exists: (digest: Digest) => Promise<unknown>): Promise<number> {
    let links = 0;
    for await (const f of this.storage.list(blobPaths.repositoriesRoot)) {
      const link = blobPaths.parseLayerLink(f.path);
      if (link && (await exists(link.digest))) {
        await this.redis.sadd(this.k.layers(link.name), link.digest);
        links++;
      }
    }
    return links;
  }
}
