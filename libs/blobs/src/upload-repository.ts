// Upload sessions. Where the driver writes in place (filesystem), every chunk (PATCH, or the body of
// the final PUT) is appended to one data file under the upload's folder, so completing is a rename;
// elsewhere (S3) each chunk becomes its own object, joined server-side at the end. Either way the
// offset and the chunk list go to the session in Redis (`upload:<id>`) only after the chunk is
// written, and a chunk always starts at the session's offset (an appended write first cuts off what
// a chunk cut short left behind). So a process killed mid-chunk leaves the session at the last whole
// chunk, and any replica can resume or complete it. Appended chunks are not fsynced one by one (an
// fsync waits for the journal, and under write-back pressure for other files' data too): the
// completion syncs the file once before it is placed, and a session records the machine whose page
// cache may hold its unsynced bytes (its boot id), so a completion after that machine went down
// hashes what storage really holds instead of trusting the digest the session kept.
//
// The digest is Node's native sha256 (OpenSSL: about 1.4 GB/s on one core here, against about
// 240 MB/s for hash-wasm, whose state could be saved in Redis), kept in the process that took the
// last chunk. Docker, skopeo and podman send an upload's requests on one connection, so the next
// chunk and the completion almost always land in that process, and completing never re-reads the
// bytes. When they land elsewhere (another replica or worker, or after a restart), that process
// re-hashes the stored chunks once (only those it missed, if it took earlier ones), as distribution
// does when its hash state is missing, and goes
// on from there. The session also keeps the digest of its bytes so far (a copy of the running hash,
// finished), so a completion without a body (POST, PATCH, PUT: what docker, skopeo and podman send)
// is checked in any process without reading the bytes again: their PUT often arrives on another
// pooled connection, and so in another process of the all-in-one. What happens to verified bytes
// (placing, linking) is the service's business.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Redis from 'ioredis';
import { RegistryError, digestAlgorithm, verifyDigest, DigestStream, type Digest } from '@stevedore/oci';
import { scanKeys, type RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { blobKeys, blobPaths, type BlobKeys } from './blob-layout';
import type { BlobInfo, ByteRange, UploadPurgeReport, UploadStatus } from './blob-service';
import { concatObjects, type ObjectSpan } from './object-concat';
import { writeThrough } from './write-through';

interface UploadRecord {
  name: string;
  offset: number;
  /** Offsets at which chunk objects start, in order (appended uploads: one object, at 0). */
  chunks: number[];
  startedAt: number;
  /** sha256 (hex) of the first `offset` bytes; absent in sessions older than it and at offset 0. */
  sha256?: string;
  /**
   * The storage's volatileScope (the machine's boot id) when chunks were appended without an fsync
   * each: their bytes may sit in that machine's page cache until completion syncs the file once.
   * Another scope at completion means that machine may have gone down with them, so `sha256` is not
   * trusted and the stored bytes are hashed again.
   */
  volatileOn?: string;
}

/** A running sha256 of an upload's first `offset` bytes, held by the process that took them. */
interface RunningHash {
  offset: number;
  hash: Hash;
}

/** Running hashes one process keeps (the oldest is dropped beyond this: its upload re-hashes if it goes on). */
const MAX_RUNNING_HASHES = 4096;

/** Bytes an upload holds, verified against their digest, ready to be placed as the blob's data. */
export interface VerifiedUpload {
  info: BlobInfo;
  /** The storage objects holding the bytes, in order (none for an empty blob). */
  chunks: string[];
}

/** Counts and hashes bytes as they flow to storage. */
class HashingCounter extends Transform {
  size = 0;
  constructor(private readonly hasher: Hash) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.hasher.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

export class UploadRepository {
  private readonly k: BlobKeys;
  /** Upload id -> its running hash, in this process only (see the top of the file). */
  private readonly running = new Map<string, RunningHash>();

  constructor(
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    keys: RedisKeys,
  ) {
    this.k = blobKeys(keys);
  }

  async start(name: string): Promise<UploadStatus> {
    const id = randomUUID();
    const record: UploadRecord = { name, offset: 0, chunks: [], startedAt: Date.now() };
    // Only Redis: the session's storage folder appears with its first bytes. (distribution also writes a
    // `startedat` object, an fsynced write per upload that only an upload purge without Redis would
    // read; purge dates folders by their newest object instead, and still reads such markers.)
    await this.redis.set(this.k.upload(id), JSON.stringify(record));
    return { id, name, offset: 0 };
  }

  async status(name: string, id: string): Promise<UploadStatus> {
    const r = await this.load(name, id);
    return { id, name, offset: r.offset };
  }

  async append(name: string, id: string, body: Readable, range?: ByteRange, length?: number): Promise<UploadStatus> {
    const record = await this.load(name, id);
    await this.writeChunk(id, record, body, range, length);
    return { id, name, offset: record.offset };
  }

  /**
   * Take the optional last chunk and check the bytes against `digest`. A mismatch ends the session
   * (DIGEST_INVALID); otherwise the session stays until the caller has placed the bytes and discards it.
   */
  async verify(name: string, id: string, digest: Digest, body?: Readable, length?: number): Promise<VerifiedUpload> {
    const record = await this.load(name, id);
    // The session ends here whatever happens, so the last chunk is not saved to it.
    if (body) await this.writeChunk(id, record, body, undefined, length, false);
    const chunks = record.chunks.map((o) => blobPaths.uploadChunk(name, id, o));
    // An appended file may hold the tail of a chunk that was cut short after the last whole one.
    if (this.storage.writeAt && chunks.length === 1) await this.trimTo(chunks[0], record.offset, id);
    let actual: Digest;
    // What the session says its bytes hash to holds while the page cache they may sit in is this one.
    const kept = record.volatileOn === undefined || record.volatileOn === this.storage.volatileScope ? record.sha256 : undefined;
    if (digestAlgorithm(digest) === 'sha256') {
      actual = `sha256:${kept ?? (await this.hashFor(id, record)).digest('hex')}` as Digest;
    } else {
      // Only sha256 state is kept; another algorithm means one read of what was stored.
      const ds = new DigestStream(digestAlgorithm(digest));
      await pipeline(concatObjects(this.storage, this.spans(id, record)), ds, new PassThrough().resume());
      actual = ds.digest();
    }
    try {
      verifyDigest(digest, actual);
    } catch (e) {
      await this.discard(name, id);
      throw e;
    }
    // Durable before the caller places them: one fsync for the whole upload instead of one per chunk.
    if (record.volatileOn !== undefined && chunks.length === 1) await this.storage.sync!(chunks[0]);
    return { info: { digest, size: record.offset }, chunks };
  }

  /**
   * Whether no chunk has reached the session yet (POST, then the whole body with the final PUT: what
   * docker, skopeo and podman send for a blob), so its bytes may go straight to their place; checks
   * that the session is `name`'s (BLOB_UPLOAD_UNKNOWN otherwise).
   */
  async isUnstarted(name: string, id: string): Promise<boolean> {
    const record = await this.load(name, id);
    return record.offset === 0 && record.chunks.length === 0;
  }

  /** End a session whose bytes never went to its storage folder: its Redis record is all there is. */
  async forget(id: string): Promise<void> {
    this.running.delete(id);
    await this.redis.del(this.k.upload(id));
  }

  async cancel(name: string, id: string): Promise<void> {
    await this.load(name, id);
    await this.discard(name, id);
  }

  /** End a session: its Redis record, then its storage folder (whatever chunks are left in it). */
  async discard(name: string, id: string): Promise<void> {
    await this.forget(id);
    await this.storage.deletePrefix(blobPaths.uploadRoot(name, id));
  }

  /**
   * A whole body in one go (putBlob): streamed into a temporary object of repository `name` while it
   * is digested, handed to `use`, and removed afterwards whatever happens (a moved object is gone already).
   */
  async stage<T>(name: string, body: Readable, sizeHint: number | undefined, use: (staged: VerifiedUpload) => Promise<T>): Promise<T> {
    const id = randomUUID();
    const tmp = blobPaths.uploadChunk(name, id, 0);
    const ds = new DigestStream();
    try {
      await writeThrough(body, ds, (out) => this.storage.writeStream(tmp, out, sizeHint));
      return await use({ info: { digest: ds.digest(), size: ds.size }, chunks: [tmp] });
    } finally {
      await this.storage.deletePrefix(blobPaths.uploadRoot(name, id)).catch(() => undefined);
    }
  }

  async purge(options: { olderThan: number; dryRun?: boolean }): Promise<UploadPurgeReport> {
    const report: UploadPurgeReport = { sessions: 0, bytes: 0, multipartAborted: 0 };
    // Sessions dealt with through Redis (kept or purged); storage's view of them is not counted again.
    const handled = new Set<string>();
    // Sessions Redis knows about.
    // Every master's sessions on a cluster.
    for await (const keys of scanKeys(this.redis, this.k.uploadPattern)) {
      for (const key of keys) {
        const raw = await this.redis.get(key);
        if (!raw) continue;
        const id = key.slice(this.k.uploadPrefix.length);
        const record = JSON.parse(raw) as UploadRecord;
        handled.add(id);
        if (record.startedAt >= options.olderThan) continue;
        report.sessions++;
        report.bytes += record.offset;
        if (!options.dryRun) await this.discard(record.name, id);
      }
    }
    // Folders storage holds without a session (Redis lost, or a crash before the session was saved).
    const folders = new Map<string, { newest: number; bytes: number }>();
    for await (const f of this.storage.list(blobPaths.repositoriesRoot)) {
      const upload = blobPaths.parseUploadObject(f.path);
      if (!upload || handled.has(upload.id)) continue;
      const folder = folders.get(upload.folder) ?? { newest: 0, bytes: 0 };
      folder.newest = Math.max(folder.newest, f.modTime.getTime());
      if (!upload.startedAt) folder.bytes += f.size;
      folders.set(upload.folder, folder);
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

  private async load(name: string, id: string): Promise<UploadRecord> {
    const raw = blobPaths.isUploadId(id) ? await this.redis.get(this.k.upload(id)) : null;
    const record = raw ? (JSON.parse(raw) as UploadRecord) : undefined;
    if (!record || record.name !== name) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { id });
    return record;
  }

  /**
   * The running hash of the session's bytes so far, taken out of this process's map (a chunk that
   * fails halfway has fed it bytes that do not count, so it is put back only after a chunk is
   * durable). Behind (chunks went to another process since): it reads only the bytes it missed,
   * which never change below the session's offset, so chunks that alternate between two processes
   * (a client's pooled connections landing in different workers) read each byte back at most once
   * per process, not the whole upload again at every chunk. Missing: the stored chunks are hashed
   * again, once.
   */
  private async hashFor(id: string, record: UploadRecord): Promise<Hash> {
    const held = this.running.get(id);
    this.running.delete(id);
    if (held && held.offset === record.offset) return held.hash;
    const from = held && held.offset < record.offset ? held.offset : 0;
    const hash = from > 0 ? held!.hash : createHash('sha256');
    let size = from;
    for await (const c of concatObjects(this.storage, this.spans(id, record, from))) {
      hash.update(c as Buffer);
      size += (c as Buffer).length;
    }
    if (size !== record.offset) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', `the upload's stored chunks hold ${size} bytes, not ${record.offset}`, { id });
    }
    return hash;
  }

  /** The stored bytes of a session from `from` on, object by object: each chunk up to where the next one starts. */
  private spans(id: string, record: UploadRecord, from = 0): ObjectSpan[] {
    return record.chunks.flatMap((start, i) => {
      const end = record.chunks[i + 1] ?? record.offset;
      if (end <= from) return [];
      const offset = Math.max(0, from - start);
      return [{ path: blobPaths.uploadChunk(record.name, id, start), offset, length: end - start - offset }];
    });
  }

  /** Cut an appended upload's data file back to the session's offset. */
  private async trimTo(path: string, offset: number, id: string): Promise<void> {
    const size = (await this.storage.stat(path))?.size;
    if (size === offset) return;
    if (size === undefined || size < offset)
      throw new RegistryError('BLOB_UPLOAD_INVALID', `the upload's data holds ${size ?? 0} bytes, not ${offset}`, { id });
    await this.storage.writeAt!(path, offset, Readable.from([]));
  }

  private keep(id: string, offset: number, hash: Hash): void {
    this.running.set(id, { offset, hash });
    if (this.running.size > MAX_RUNNING_HASHES) this.running.delete(this.running.keys().next().value!);
  }

  /** Store one chunk and advance the session; the session changes only once the chunk is durable. */
  private async writeChunk(
    id: string,
    record: UploadRecord,
    body: Readable,
    range?: ByteRange,
    length?: number,
    save = true,
  ): Promise<void> {
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
    const hasher = await this.hashFor(id, record);
    const counter = new HashingCounter(hasher);
    // Appended: every chunk goes to the object at offset 0; otherwise each to its own object.
    const appended = this.storage.writeAt !== undefined;
    // Appended chunks are synced once, at completion, where the storage can tell whether a page
    // cache holding them is still there (see volatileOn). A killed process loses nothing either way.
    const scope = appended && this.storage.sync ? this.storage.volatileScope : undefined;
    const key = blobPaths.uploadChunk(record.name, id, appended ? 0 : record.offset);
    // What a failed chunk leaves behind does not count: an appended file goes back to the offset.
    const undo = () => (appended && record.offset > 0 ? this.trimTo(key, record.offset, id) : this.storage.delete(key));
    try {
      await writeThrough(body, counter, (out) =>
        appended
          ? this.storage.writeAt!(key, record.offset, out, { durable: scope === undefined })
          : this.storage.writeStream(key, out, expected),
      );
    } catch (e) {
      await undo().catch(() => undefined);
      throw e;
    }
    if (expected !== undefined && counter.size !== expected) {
      await undo();
      throw new RegistryError('SIZE_INVALID', `received ${counter.size} bytes, expected ${expected}`, { received: counter.size, expected });
    }
    if (counter.size === 0) {
      await undo();
      this.keep(id, record.offset, hasher);
      return;
    }
    if (!appended || record.chunks.length === 0) record.chunks.push(appended ? 0 : record.offset);
    record.offset += counter.size;
    if (scope !== undefined) record.volatileOn = scope;
    // A copy, finished: the running hash goes on with the next chunk.
    record.sha256 = hasher.copy().digest('hex');
    if (save) await this.redis.set(this.k.upload(id), JSON.stringify(record));
    this.keep(id, record.offset, hasher);
  }
}
