// The content-addressed bytes (blobs/<alg>/<2 hex>/<hex>/data) and their Redis index
// (`blob:<digest>` {size}): whether a blob exists, reading it (small-blob cache, ranges, presigned
// redirects), moving finished bytes into place, the manifest bytes metadata keeps here
// (storeContent/readContent/dropContent), GC's listing, and rebuilding the index from storage.
// Whether a repository may see a blob is the link repository's question, not this one's.
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Redis from 'ioredis';
import { DigestStream, RegistryError, digestAlgorithm, verifyDigest, type Digest } from '@stevedore/oci';
import { LRUCache } from 'lru-cache';
import { scanPage, type RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { blobKeys, blobPaths, type BlobKeys } from './blob-layout';
import type { BlobContent, BlobInfo, BlobRecord, OpenOptions } from './blob-service';
import { SWEEP_LEASE_SECONDS, luaMayGo, type DigestGuard } from './digest-guard';
import { writeThrough } from './write-through';

// Dropping content kept by storeContent once its manifest record is purged. KEYS: blob, touched,
// writing, sweeping. ARGV: cutoff ms, lease seconds. Returns < 0 when the digest must stay (busy,
// first seen, touched since), 0 when it is an indexed blob (its sweep owns the bytes), 1 when the
// bytes go (the caller deletes them, then releases the lease).
const DROP_CONTENT = `${luaMayGo({ touched: 2, writing: 3, sweeping: 4 })}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[4], '1', 'EX', ARGV[2])
return 1`;

export interface BlobRepositoryOptions {
  /** Seconds a presigned redirect stays valid. */
  redirectExpirySeconds?: number;
  /** In-process cache of small blobs (configs, tiny layers): total bytes, largest entry. */
  smallBlobCacheBytes?: number;
  smallBlobMaxBytes?: number;
}

export class BlobRepository {
  // Blobs are content-addressed and immutable, so cached bytes never go stale; whether a
  // repository may see them is still asked of Redis on every request.
  private readonly small: LRUCache<string, Buffer>;
  private readonly smallMax: number;
  private readonly k: BlobKeys;

  constructor(
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    keys: RedisKeys,
    /** Its keys are those GC's scripts check; the guard itself is held by the service. */
    private readonly guard: DigestGuard,
    private readonly options: BlobRepositoryOptions = {},
  ) {
    this.smallMax = options.smallBlobMaxBytes ?? 256 * 1024;
    this.small = new LRUCache<string, Buffer>({
      maxSize: options.smallBlobCacheBytes ?? 64 * 1024 * 1024,
      maxEntrySize: this.smallMax,
      // lru-cache wants sizes of at least 1; the empty blob counts as one byte.
      sizeCalculation: (b) => b.length || 1,
    });
    this.k = blobKeys(keys);
  }

  async exists(digest: Digest): Promise<BlobInfo | undefined> {
    const size = await this.redis.hget(this.k.blob(digest), 'size');
    return size === null ? undefined : { digest, size: Number(size) };
  }

  /** Record that the bytes are durable (and how big): from now on the blob exists. */
  async index(info: BlobInfo): Promise<void> {
    await this.redis.hset(this.k.blob(info.digest), 'size', String(info.size));
  }

  /** Read a blob the caller has found visible (`info` from the index); RANGE_INVALID for a bad range. */
  async open(info: BlobInfo, options: OpenOptions = {}): Promise<BlobContent> {
    const path = blobPaths.blobData(info.digest);
    if (options.allowRedirect && !options.range) {
      const url = await this.storage.presign(path, { method: 'GET', expirySeconds: this.options.redirectExpirySeconds ?? 600 });
      if (url) return { info, redirectUrl: url };
    }
    let bytes: Buffer | undefined;
    if (info.size <= this.smallMax) {
      bytes = this.small.get(info.digest);
      if (!bytes) {
        bytes = await this.storage.getContent(path);
        this.small.set(info.digest, bytes);
      }
    }
    if (options.range) {
      const start = options.range.start;
      const end = Math.min(options.range.end ?? info.size - 1, info.size - 1);
      if (start >= info.size || end < start) {
        throw new RegistryError('RANGE_INVALID', 'requested range not satisfiable', { size: info.size });
      }
      if (bytes) {
        const part = bytes.subarray(start, end + 1);
        return { info, bytes: part, stream: Readable.from([part]), range: { start, end } };
      }
      const stream = await this.storage.reader(path, { offset: start, length: end - start + 1 });
      return { info, stream, range: { start, end } };
    }
    if (bytes) return { info, bytes, stream: Readable.from([bytes]) };
    return { info, stream: await this.storage.reader(path) };
  }

  /** Forget cached bytes whose blob GC is deleting. */
  evict(digest: Digest): void {
    this.small.delete(digest);
  }

  /**
   * Make verified bytes the blob's data: `sources` are the storage objects holding them in order
   * (one is moved, several are concatenated, none is an empty blob). Not indexed yet.
   */
  async place(digest: Digest, sources: string[]): Promise<void> {
    const dest = blobPaths.blobData(digest);
    if (sources.length === 0) await this.storage.putContent(dest, Buffer.alloc(0));
    else if (sources.length === 1) await this.storage.move(sources[0], dest);
    else await this.storage.concat(sources, dest);
  }

  /** Whether verified bytes can be written straight beside their place (writeVerified): the filesystem. */
  get writesInPlace(): boolean {
    return this.storage.writeChecked !== undefined;
  }

  /**
   * Bytes a client says are `digest` (and `length` long, when it says): hashed as they are written to
   * a temporary file beside the blob's place, which becomes the blob's data only once they match and
   * `accept` agrees (the quota), so they are written once and renamed, with no upload folder and no
   * second move. If the blob exists already the bytes are only hashed. Not indexed yet; the caller
   * holds the digest as a DigestGuard writer. DIGEST_INVALID or SIZE_INVALID when they do not match.
   */
  async writeVerified(
    digest: Digest,
    body: Readable,
    length: number | undefined,
    accept: (info: BlobInfo) => Promise<void>,
  ): Promise<BlobInfo> {
    const ds = new DigestStream(digestAlgorithm(digest));
    const check = async (): Promise<BlobInfo> => {
      if (length !== undefined && ds.size !== length) {
        throw new RegistryError('SIZE_INVALID', `received ${ds.size} bytes, expected ${length}`, { received: ds.size, expected: length });
      }
      verifyDigest(digest, ds.digest());
      const info = { digest, size: ds.size };
      await accept(info);
      return info;
    };
    if (await this.exists(digest)) {
      await pipeline(body, ds, new Writable({ write: (_c, _e, cb) => cb() }));
      return check();
    }
    let info: BlobInfo | undefined;
    await writeThrough(body, ds, (out) =>
      this.storage.writeChecked!(blobPaths.blobData(digest), out, async () => {
        info = await check();
      }),
    );
    return info!;
  }

  async storeContent(digest: Digest, bytes: Buffer): Promise<void> {
    // Content-addressed: rewriting the same bytes is harmless and cheaper than asking storage first.
    if (!(await this.exists(digest))) await this.storage.putContent(blobPaths.blobData(digest), bytes);
  }

  /** Whether storage holds the bytes of `digest` (a blob's, or manifest bytes kept by storeContent). */
  async hasData(digest: Digest): Promise<boolean> {
    return (await this.dataSize(digest)) !== undefined;
  }

  /** The size of the bytes storage holds for `digest`, or undefined when it holds none. */
  async dataSize(digest: Digest): Promise<number | undefined> {
    return (await this.storage.stat(blobPaths.blobData(digest)))?.size;
  }

  /** For the consistency pass: drop the index entry alone (its bytes are gone already). */
  async forget(digest: Digest): Promise<void> {
    this.small.delete(digest);
    await this.redis.del(this.k.blob(digest));
  }

  async readContent(digest: Digest): Promise<Buffer | undefined> {
    return this.storage.getContent(blobPaths.blobData(digest)).catch(() => undefined);
  }

  async dropContent(digests: Digest[], options: { olderThan: number }): Promise<Digest[]> {
    const outcomes = await Promise.all(
      digests.map(
        (d) =>
          this.redis.eval(
            DROP_CONTENT,
            4,
            this.k.blob(d),
            ...this.guard.mayGoKeys(d),
            options.olderThan,
            SWEEP_LEASE_SECONDS,
          ) as Promise<number>,
      ),
    );
    const dropped = digests.filter((_, i) => outcomes[i] === 1);
    try {
      if (dropped.length) await this.storage.deleteMany(dropped.map((d) => blobPaths.blobData(d)));
    } finally {
      // One DEL per lease: each digest's lease is in its own slot on a cluster.
      await Promise.all(dropped.map((d) => this.redis.del(this.guard.sweepingKey(d))));
    }
    return dropped;
  }

  async listBlobs(cursor = '0'): Promise<{ items: BlobRecord[]; cursor?: string }> {
    // Every master's keys on a cluster (scanPage's cursor says which master and where).
    const page = await scanPage(this.redis, this.k.blobPattern, cursor);
    const digests = page.keys.map((k) => this.k.blobDigestOf(k) as Digest);
    const rows = await Promise.all(
      digests.map((d) => Promise.all([this.redis.hget(this.k.blob(d), 'size'), this.redis.get(this.guard.touchedKey(d))])),
    );
    const items: BlobRecord[] = [];
    digests.forEach((digest, i) => {
      const [size, touched] = rows[i];
      if (size === null) return;
      items.push(touched === null ? { digest, size: Number(size) } : { digest, size: Number(size), touched: Number(touched) });
    });
    return page.cursor === undefined ? { items } : { items, cursor: page.cursor };
  }

  /** Index every blob storage holds; returns how many. */
  async reindex(): Promise<number> {
    let blobs = 0;
    for await (const f of this.storage.list(blobPaths.blobsRoot)) {
      const digest = blobPaths.parseBlobData(f.path);
      if (!digest) continue;
      await this.index({ digest, size: f.size });
      blobs++;
    }
    return blobs;
  }
}
