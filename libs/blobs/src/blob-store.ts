// Content-addressed blobs and resumable uploads over a StorageDriver, indexed in Redis.
//
// Uploads: every chunk (PATCH, or the body of the final PUT) becomes its own storage object under
// the upload's folder, written atomically; the running sha256 state (hash-wasm, 116 bytes) and the
// offset go to Redis only after the chunk is durable. So a process killed mid-chunk leaves the
// session at the last whole chunk and any replica can resume or complete it, and completion never
// re-reads the bytes to learn their digest (as distribution keeps its hashstates).
//
// Write order: blob bytes -> link object -> Redis index. Readers consult only Redis (no storage
// stat on the hot path); `reindex` rebuilds Redis from the link objects.
import { blobKeys } from './blob-layout';
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createSHA256, type IHasher } from 'hash-wasm';
import type Redis from 'ioredis';
import { RegistryError, digestAlgorithm, verifyDigest, DigestStream, type Digest } from '@stevedore/oci';
import { ByteLru, RedisKeys, StorageLayout, parseLinkKey } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import type {
  BlobContent,
  BlobInfo,
  BlobQuota,
  BlobRecord,
  BlobGcService,
  BlobService,
  BlobSweepItem,
  BlobSweepResult,
  ByteRange,
  OpenOptions,
  UploadPurgeReport,
  UploadStatus,
} from './blob-service';
import { DigestGuard, luaMayGo } from './digest-guard';

interface UploadRecord {
  name: string;
  offset: number;
  /** base64 of hash-wasm's saved sha256 state; empty before the first byte. */
  hashState: string;
  /** Offsets at which chunk objects start, in order. */
  chunks: number[];
  startedAt: number;
}

const UPLOAD_ID = /^[a-f0-9-]{36}$/;

/** Counts and hashes bytes as they flow to storage. */
class HashingCounter extends Transform {
  size = 0;
  constructor(private readonly hasher: IHasher) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.hasher.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

export interface BlobStoreOptions {
  /** Seconds a presigned redirect stays valid. */
  redirectExpirySeconds?: number;
  /** In-process cache of small blobs (configs, tiny layers): total bytes, largest entry. */
  smallBlobCacheBytes?: number;
  smallBlobMaxBytes?: number;
  /** Namespace quotas (libs/gc), checked before a blob is linked. */
  quota?: BlobQuota;
}

// GC's sweep of one digest, atomic against DigestGuard's writers. KEYS: blob, touched, writing,
// sweeping, then the layer sets to unlink from. ARGV: cutoff ms, lease seconds, deleteData, digest.
// Returns -1 busy, -2 first seen (stamped now), -3 touched since the cutoff, else the size swept.
const SWEEP = `${luaMayGo({ touched: 2, writing: 3, sweeping: 4 })}
local size = tonumber(redis.call('HGET', KEYS[1], 'size') or '0')
for i = 5, #KEYS do redis.call('SREM', KEYS[i], ARGV[4]) end
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('DEL', KEYS[2])
end
redis.call('SET', KEYS[4], '1', 'EX', ARGV[2])
return size`;

// Dropping content kept by storeContent once its manifest record is purged. KEYS: blob, touched,
// writing, sweeping. ARGV: cutoff ms, lease seconds. Returns < 0 when the digest must stay (busy,
// first seen, touched since), 0 when it is an indexed blob (its sweep owns the bytes), 1 when the
// bytes go (the caller deletes them, then releases the lease).
const DROP_CONTENT = `${luaMayGo({ touched: 2, writing: 3, sweeping: 4 })}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[4], '1', 'EX', ARGV[2])
return 1`;

/** Seconds a sweep lease outlives a crashed collector (writers of that digest wait at most this long). */
const SWEEP_LEASE_SECONDS = 600;

export class BlobStore implements BlobService, BlobGcService {
  // Blobs are content-addressed and immutable, so cached bytes never go stale; whether a
  // repository may see them is still asked of Redis on every request.
  private readonly small: ByteLru;
  private readonly smallMax: number;
  private readonly guard: DigestGuard;

  constructor(
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: BlobStoreOptions = {},
  ) {
    this.smallMax = options.smallBlobMaxBytes ?? 256 * 1024;
    this.small = new ByteLru(options.smallBlobCacheBytes ?? 64 * 1024 * 1024, this.smallMax);
    this.guard = new DigestGuard(redis, keys);
    this.k = blobKeys(keys);
  }

  private readonly k: ReturnType<typeof blobKeys>;
  private blobKey(d: Digest): string {
    return this.k.blob(d);
  }
  private layersKey(name: string): string {
    return this.k.layers(name);
  }
  private uploadKey(id: string): string {
    return this.k.upload(id);
  }

  async exists(digest: Digest): Promise<BlobInfo | undefined> {
    const size = await this.redis.hget(this.blobKey(digest), 'size');
    return size === null ? undefined : { digest, size: Number(size) };
  }

  async stat(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    const [[, linked], [, size]] = (await this.redis
      .multi()
      .sismember(this.layersKey(name), digest)
      .hget(this.blobKey(digest), 'size')
      .exec()) as [[unknown, number], [unknown, string | null]];
    return linked && size !== null ? { digest, size: Number(size) } : undefined;
  }

  async open(name: string, digest: Digest, options: OpenOptions = {}): Promise<BlobContent> {
    const info = await this.stat(name, digest);
    if (!info) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
    const path = StorageLayout.blobData(digest);
    if (options.allowRedirect && !options.range) {
      const url = await this.storage.presign(path, { method: 'GET', expirySeconds: this.options.redirectExpirySeconds ?? 600 });
      if (url) return { info, redirectUrl: url };
    }
    let bytes: Buffer | undefined;
    if (info.size <= this.smallMax) {
      bytes = this.small.get(digest);
      if (!bytes) {
        bytes = await this.storage.getContent(path);
        this.small.set(digest, bytes);
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

  async startUpload(name: string): Promise<UploadStatus> {
    const id = randomUUID();
    const record: UploadRecord = { name, offset: 0, hashState: '', chunks: [], startedAt: Date.now() };
    await this.storage.putContent(StorageLayout.uploadStartedAt(name, id), new Date(record.startedAt).toISOString());
    await this.redis.set(this.uploadKey(id), JSON.stringify(record));
    return { id, name, offset: 0 };
  }

  private async load(name: string, id: string): Promise<UploadRecord> {
    const raw = UPLOAD_ID.test(id) ? await this.redis.get(this.uploadKey(id)) : null;
    const record = raw ? (JSON.parse(raw) as UploadRecord) : undefined;
    if (!record || record.name !== name) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { id });
    return record;
  }

  async uploadStatus(name: string, id: string): Promise<UploadStatus> {
    const r = await this.load(name, id);
    return { id, name, offset: r.offset };
  }

  async appendChunk(name: string, id: string, body: Readable, range?: ByteRange, length?: number): Promise<UploadStatus> {
    const record = await this.load(name, id);
    await this.writeChunk(id, record, body, range, length);
    return { id, name, offset: record.offset };
  }

  private async hasherFor(record: UploadRecord): Promise<IHasher> {
    const hasher = await createSHA256();
    if (record.hashState) hasher.load(Buffer.from(record.hashState, 'base64'));
    else hasher.init();
    return hasher;
  }

  /** Store one chunk and advance the session; the session changes only once the chunk is durable. */
  private async writeChunk(id: string, record: UploadRecord, body: Readable, range?: ByteRange, length?: number): Promise<void> {
    if (range && range.start !== record.offset) {
      body.resume();
      throw new RegistryError(
        'RANGE_INVALID',
        `chunk starts at ${range.start} but the upload is at ${record.offset}`,
        { offset: record.offset },
        416,
      );
    }
    if (range?.end !== undefined && length !== undefined && range.end - range.start + 1 !== length) {
      body.resume();
      throw new RegistryError('RANGE_INVALID', 'Content-Range does not match Content-Length', { range, length }, 416);
    }
    const expected = length ?? (range?.end !== undefined ? range.end - range.start + 1 : undefined);
    const hasher = await this.hasherFor(record);
    const counter = new HashingCounter(hasher);
    const key = StorageLayout.uploadChunk(record.name, id, record.offset);
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const write = this.storage.writeStream(key, out, expected);
    try {
      await Promise.all([pipeline(body, counter, out), write]);
    } catch (e) {
      out.destroy();
      await write.catch(() => undefined);
      await this.storage.delete(key).catch(() => undefined);
      throw e;
    }
    if (expected !== undefined && counter.size !== expected) {
      await this.storage.delete(key);
      throw new RegistryError('SIZE_INVALID', `received ${counter.size} bytes, expected ${expected}`, { received: counter.size, expected });
    }
    if (counter.size === 0) {
      await this.storage.delete(key);
      return;
    }
    record.chunks.push(record.offset);
    record.offset += counter.size;
    record.hashState = Buffer.from(hasher.save()).toString('base64');
    await this.redis.set(this.uploadKey(id), JSON.stringify(record));
  }

  async completeUpload(name: string, id: string, digest: Digest, body?: Readable, length?: number): Promise<BlobInfo> {
    const record = await this.load(name, id);
    if (body) await this.writeChunk(id, record, body, undefined, length);
    const chunkKeys = record.chunks.map((o) => StorageLayout.uploadChunk(name, id, o));
    let actual: Digest;
    if (digestAlgorithm(digest) === 'sha256') {
      actual = `sha256:${(await this.hasherFor(record)).digest('hex')}` as Digest;
    } else {
      // Only sha256 state is kept; another algorithm means one read of what was stored.
      const ds = new DigestStream(digestAlgorithm(digest));
      await pipeline(this.concat(chunkKeys), ds, new PassThrough().resume());
      actual = ds.digest();
    }
    try {
      verifyDigest(digest, actual);
    } catch (e) {
      await this.discard(name, id);
      throw e;
    }
    const info: BlobInfo = { digest, size: record.offset };
    try {
      await this.guard.hold([digest], async () => {
        await this.options.quota?.reserve(name, info);
        if (!(await this.exists(digest))) {
          const dest = StorageLayout.blobData(digest);
          if (chunkKeys.length === 0) await this.storage.putContent(dest, Buffer.alloc(0));
          else if (chunkKeys.length === 1) await this.storage.move(chunkKeys[0], dest);
          else await this.storage.writeStream(dest, this.concat(chunkKeys), record.offset);
        }
        await this.commitLink(name, info);
      });
    } catch (e) {
      if (e instanceof RegistryError && e.code === 'DENIED') await this.discard(name, id);
      throw e;
    }
    await this.discard(name, id);
    return info;
  }

  private concat(keys: string[]): Readable {
    const storage = this.storage;
    return Readable.from(
      (async function* () {
        for (const k of keys) yield* await storage.reader(k);
      })(),
    );
  }

  /** Bytes are durable: record them globally, then link them into the repository. */
  private async commitLink(name: string, info: BlobInfo): Promise<void> {
    await this.redis.hset(this.blobKey(info.digest), 'size', String(info.size));
    await this.storage.putContent(StorageLayout.layerLink(name, info.digest), info.digest);
    await this.redis.sadd(this.layersKey(name), info.digest);
  }

  private async discard(name: string, id: string): Promise<void> {
    await this.redis.del(this.uploadKey(id));
    await this.storage.deletePrefix(StorageLayout.uploadRoot(name, id));
  }

  async cancelUpload(name: string, id: string): Promise<void> {
    await this.load(name, id);
    await this.discard(name, id);
  }

  async mount(name: string, from: string, digest: Digest): Promise<BlobInfo | undefined> {
    await this.guard.begin([digest]);
    let linked: BlobInfo | undefined;
    try {
      const info = await this.stat(from, digest);
      if (info) {
        await this.options.quota?.reserve(name, info);
        await this.commitLink(name, info);
        linked = info;
      }
    } finally {
      await this.guard.end([digest], linked !== undefined);
    }
    return linked;
  }

  async putBlob(name: string, body: Readable, expected?: Digest, sizeHint?: number): Promise<BlobInfo> {
    if (expected) {
      const have = await this.guard.hold([expected], async () => {
        const info = await this.exists(expected);
        if (info) {
          await this.options.quota?.reserve(name, info);
          await this.commitLink(name, info);
        }
        return info;
      });
      if (have) {
        body.resume();
        return have;
      }
    }
    const id = randomUUID();
    const tmp = StorageLayout.uploadChunk(name, id, 0);
    const ds = new DigestStream();
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const write = this.storage.writeStream(tmp, out, sizeHint);
    try {
      try {
        await Promise.all([pipeline(body, ds, out), write]);
      } catch (e) {
        // The write must have let go of its temporary file before the upload folder is removed.
        out.destroy();
        await write.catch(() => undefined);
        throw e;
      }
      const digest = ds.digest();
      if (expected) verifyDigest(expected, digest);
      const info = { digest, size: ds.size };
      await this.guard.hold([digest], async () => {
        await this.options.quota?.reserve(name, info);
        if (!(await this.exists(digest))) await this.storage.move(tmp, StorageLayout.blobData(digest));
        await this.commitLink(name, info);
      });
      return info;
    } finally {
      await this.storage.deletePrefix(StorageLayout.uploadRoot(name, id)).catch(() => undefined);
    }
  }

  async reindex(): Promise<number> {
    let blobs = 0;
    for await (const f of this.storage.list(StorageLayout.blobsRoot)) {
      const m = /^blobs\/(sha256|sha512)\/[a-f0-9]{2}\/([a-f0-9]+)\/data$/.exec(f.path);
      if (!m) continue;
      await this.redis.hset(this.blobKey(`${m[1]}:${m[2]}` as Digest), 'size', String(f.size));
      blobs++;
    }
    for await (const f of this.storage.list(StorageLayout.repositoriesRoot)) {
      const link = parseLinkKey(f.path);
      if (link?.kind === 'layer' && (await this.exists(link.digest as Digest)))
        await this.redis.sadd(this.layersKey(link.name), link.digest);
    }
    return blobs;
  }

  async storeContent(digest: Digest, bytes: Buffer): Promise<void> {
    // Content-addressed: rewriting the same bytes is harmless and cheaper than asking storage first.
    if (!(await this.exists(digest))) await this.storage.putContent(StorageLayout.blobData(digest), bytes);
  }

  async readContent(digest: Digest): Promise<Buffer | undefined> {
    return this.storage.getContent(StorageLayout.blobData(digest)).catch(() => undefined);
  }

  async dropContent(digests: Digest[], options: { olderThan: number }): Promise<Digest[]> {
    const outcomes = await Promise.all(
      digests.map(
        (d) =>
          this.redis.eval(
            DROP_CONTENT,
            4,
            this.blobKey(d),
            this.guard.touchedKey(d),
            this.guard.writingKey(d),
            this.guard.sweepingKey(d),
            options.olderThan,
            SWEEP_LEASE_SECONDS,
          ) as Promise<number>,
      ),
    );
    const dropped = digests.filter((_, i) => outcomes[i] === 1);
    try {
      if (dropped.length) await this.storage.deleteMany(dropped.map((d) => StorageLayout.blobData(d)));
    } finally {
      if (dropped.length) await this.redis.del(...dropped.map((d) => this.guard.sweepingKey(d)));
    }
    return dropped;
  }

  async unlink(name: string, digest: Digest): Promise<void> {
    const removed = await this.redis.srem(this.layersKey(name), digest);
    if (!removed) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
    await this.storage.delete(StorageLayout.layerLink(name, digest));
  }

  async listBlobs(cursor = '0'): Promise<{ items: BlobRecord[]; cursor?: string }> {
    const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.k.blobPattern, 'COUNT', 1000);
    const prefix = this.k.blobPrefix;
    const digests = keys.map((k) => k.slice(prefix.length) as Digest);
    const rows = await Promise.all(
      digests.map((d) => Promise.all([this.redis.hget(this.blobKey(d), 'size'), this.redis.get(this.guard.touchedKey(d))])),
    );
    const items: BlobRecord[] = [];
    digests.forEach((digest, i) => {
      const [size, touched] = rows[i];
      if (size === null) return;
      items.push(touched === null ? { digest, size: Number(size) } : { digest, size: Number(size), touched: Number(touched) });
    });
    return next === '0' ? { items } : { items, cursor: next };
  }

  async listLinks(name: string): Promise<Digest[]> {
    return (await this.redis.smembers(this.layersKey(name))) as Digest[];
  }

  async sweepBlobs(items: BlobSweepItem[], options: { olderThan: number }): Promise<BlobSweepResult> {
    const result: BlobSweepResult = { deleted: [], unlinked: 0, skipped: [] };
    const paths: string[] = [];
    const leased: Digest[] = [];
    // 1. Index first, digest by digest, each atomic against writers: readers miss before bytes go.
    const outcomes = await Promise.all(
      items.map((it) => {
        const keys = [
          this.blobKey(it.digest),
          this.guard.touchedKey(it.digest),
          this.guard.writingKey(it.digest),
          this.guard.sweepingKey(it.digest),
          ...it.unlinkFrom.map((n) => this.layersKey(n)),
        ];
        return this.redis.eval(
          SWEEP,
          keys.length,
          ...keys,
          options.olderThan,
          SWEEP_LEASE_SECONDS,
          it.deleteData ? '1' : '0',
          it.digest,
        ) as Promise<number>;
      }),
    );
    items.forEach((it, i) => {
      const size = outcomes[i];
      if (size < 0) {
        result.skipped.push(it.digest);
        return;
      }
      leased.push(it.digest);
      for (const n of it.unlinkFrom) paths.push(StorageLayout.layerLink(n, it.digest));
      result.unlinked += it.unlinkFrom.length;
      if (it.deleteData) {
        paths.push(StorageLayout.blobData(it.digest));
        result.deleted.push({ digest: it.digest, size });
        this.small.delete(it.digest);
      }
    });
    // 2. Storage, in as few calls as the driver allows; 3. release the leases writers wait on.
    try {
      if (paths.length) await this.storage.deleteMany(paths);
    } finally {
      if (leased.length) await this.redis.del(...leased.map((d) => this.guard.sweepingKey(d)));
    }
    return result;
  }

  async purgeUploads(options: { olderThan: number; dryRun?: boolean }): Promise<UploadPurgeReport> {
    const report: UploadPurgeReport = { sessions: 0, bytes: 0, multipartAborted: 0 };
    // Sessions dealt with through Redis (kept or purged); storage's view of them is not counted again.
    const handled = new Set<string>();
    // Sessions Redis knows about.
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.uploadKey('*'), 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const raw = await this.redis.get(key);
        if (!raw) continue;
        const id = key.slice(this.uploadKey('').length);
        const record = JSON.parse(raw) as UploadRecord;
        handled.add(id);
        if (record.startedAt >= options.olderThan) continue;
        report.sessions++;
        report.bytes += record.offset;
        if (!options.dryRun) await this.discard(record.name, id);
      }
    } while (cursor !== '0');
    // Folders storage holds without a session (Redis lost, or a crash before the session was saved).
    const folders = new Map<string, { newest: number; bytes: number }>();
    for await (const f of this.storage.list(StorageLayout.repositoriesRoot)) {
      const m = /^(repositories\/.+\/_uploads\/([^/]+)\/)/.exec(f.path);
      if (!m || handled.has(m[2])) continue;
      const folder = folders.get(m[1]) ?? { newest: 0, bytes: 0 };
      folder.newest = Math.max(folder.newest, f.modTime.getTime());
      if (!f.path.endsWith('/startedat')) folder.bytes += f.size;
      folders.set(m[1], folder);
    }
    for (const [prefix, folder] of folders) {
      if (folder.newest >= options.olderThan) continue;
      report.sessions++;
      report.bytes += folder.bytes;
      if (!options.dryRun) await this.storage.deletePrefix(prefix);
    }
    for await (const u of this.storage.listMultipart('')) {
      if (u.initiated.getTime() >= options.olderThan) continue;
      report.multipartAborted++;
      if (!options.dryRun) await this.storage.abortMultipart(u.path, u.uploadId);
    }
    return report;
  }
}
