// The embedded default: keys are files under a root directory. Writes go to a temp file in the
// same directory, are fsynced and renamed into place, so a crash never leaves a partial object
// visible. Multipart parts live under `_multipart/<uploadId>/` at the root, which list() does not
// show and keys may not name; temp files start with `.tmp-`, which no key segment may.
import fsCallbacks, { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  InvalidPathError,
  PathNotFoundError,
  type FileInfo,
  type MultipartPart,
  type MultipartUploadInfo,
  type PresignOptions,
  type ReadRange,
  type StorageDriver,
} from './storage-driver';
import { checkKey } from './keys';
import { FileRangeStream } from './file-range-stream';

const MULTIPART_DIR = '_multipart';
const TEMP_PREFIX = '.tmp-';
// How often a write makes its directory again after a delete beside it pruned it (see inDir).
const DIR_RACE_ATTEMPTS = 8;

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly minPartSize = 1;

  constructor(readonly root: string) {}

  private full(key: string, allowPrefix = false): string {
    checkKey(key, allowPrefix);
    const segments = key.split('/');
    if (segments[0] === MULTIPART_DIR || segments.some((s) => s.startsWith(TEMP_PREFIX))) throw new InvalidPathError(key);
    return path.join(this.root, key);
  }

  async stat(key: string): Promise<FileInfo | undefined> {
    try {
      const st = await fs.stat(this.full(key));
      return st.isFile() ? { path: key, size: st.size, modTime: st.mtime } : undefined;
    } catch (e) {
      if (isNotFound(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw e;
    }
  }

  // Node's callback readFile under one promise: fs.promises.readFile costs a FileHandle and a promise
  // per step (open, fstat, read, close), twice the CPU for the small objects this is for (a commit
  // reads a container's 1,000 small files through here, with every promise paying the async hooks
  // of AsyncLocalStorage). Same bytes, same errors.
  getContent(key: string): Promise<Buffer> {
    let file: string;
    try {
      file = this.full(key);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) =>
      fsCallbacks.readFile(file, (e, data) => {
        if (!e) resolve(data);
        else reject(isNotFound(e) || e.code === 'EISDIR' ? new PathNotFoundError(key) : e);
      }),
    );
  }

  // Small objects (links, manifests, markers) in one write, without a stream: the same temp file,
  // fsync and rename as atomicWrite, in a quarter of its system calls.
  async putContent(key: string, content: Buffer | string): Promise<void> {
    const dest = this.full(key);
    const tmp = path.join(path.dirname(dest), `${TEMP_PREFIX}${randomUUID()}`);
    // Once the temp file is in the directory, no prune can remove it before the rename.
    const fh = await this.inDir(path.dirname(dest), () => fs.open(tmp, 'wx'));
    try {
      await fh.writeFile(content);
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    await fs.rename(tmp, dest).catch(async (e: unknown) => {
      await fs.rm(tmp, { force: true });
      throw e;
    });
  }

  async reader(key: string, range: ReadRange = {}): Promise<Readable> {
    const file = this.full(key);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, 'r');
    } catch (e) {
      if (isNotFound(e)) throw new PathNotFoundError(key);
      throw e;
    }
    const start = range.offset ?? 0;
    if (range.length !== undefined && range.length <= 0) {
      await handle.close();
      return Readable.from([]);
    }
    return new FileRangeStream(handle, start, range.length ?? Infinity);
  }

  private async atomicWrite(dest: string, source: Readable, check?: (bytes: number) => Promise<void>): Promise<number> {
    const tmp = path.join(path.dirname(dest), `${TEMP_PREFIX}${randomUUID()}`);
    let bytes = 0;
    // Opened before a byte of `source` is read, so a directory pruned under it can be made again.
    const handle = await this.inDir(path.dirname(dest), () => fs.open(tmp, 'wx'));
    // flush: fsync before the stream closes its handle, instead of opening the file again to sync it.
    const out = handle.createWriteStream({ highWaterMark: 1 << 20, flush: true });
    try {
      await pipeline(
        source,
        new PassThrough({
          transform(chunk: Buffer, _e, cb) {
            bytes += chunk.length;
            cb(null, chunk);
          },
        }),
        out,
      );
      if (check) await check(bytes);
      await fs.rename(tmp, dest);
      return bytes;
    } catch (e) {
      // The file may still be opening when the source fails: removed before that, it would be
      // created after and stay behind. Wait for the stream to close first.
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      await fs.rm(tmp, { force: true });
      throw e;
    }
  }

  async writeStream(key: string, source: Readable, _sizeHint?: number): Promise<number> {
    return this.atomicWrite(this.full(key), source);
  }

  async writeChecked(key: string, source: Readable, check: (bytes: number) => Promise<void>): Promise<number> {
    return this.atomicWrite(this.full(key), source, check);
  }

  readonly volatileScope = bootId();

  async writeAt(key: string, offset: number, source: Readable, options: { durable?: boolean } = {}): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset out of range: ${offset}`);
    const file = this.full(key);
    let fh: fs.FileHandle;
    if (offset === 0) {
      fh = await this.inDir(path.dirname(file), () => fs.open(file, 'w'));
    } else {
      try {
        fh = await fs.open(file, 'r+');
      } catch (e) {
        if (isNotFound(e)) throw new PathNotFoundError(key);
        throw e;
      }
      const size = (await fh.stat()).size;
      if (size < offset) {
        await fh.close();
        throw new PathNotFoundError(`${key} (shorter than ${offset} bytes)`);
      }
      // Bytes beyond `offset` are what a write cut short left behind: they never counted. (Only
      // then: a truncate to the same size is still a metadata write in the journal.)
      if (size > offset) await fh.truncate(offset);
    }
    // Plain positioned writes: a write stream over a FileHandle it does not close keeps the handle
    // referenced, and FileHandle.close() then waits forever.
    let position = offset;
    try {
      for await (const chunk of source) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
        for (let done = 0; done < buf.length;) {
          const { bytesWritten } = await fh.write(buf, done, buf.length - done, position);
          done += bytesWritten;
          position += bytesWritten;
        }
      }
      if (options.durable !== false) await fh.sync();
      return position - offset;
    } catch (e) {
      await fh.truncate(offset).catch(() => undefined);
      throw e;
    } finally {
      await fh.close();
    }
  }

  async sync(key: string): Promise<void> {
    // fsync flushes the file's dirty pages whichever descriptor wrote them.
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(this.full(key), 'r');
    } catch (e) {
      if (isNotFound(e)) throw new PathNotFoundError(key);
      throw e;
    }
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async concat(sources: string[], to: string): Promise<void> {
    for (const s of sources) this.full(s);
    const files = sources.map((s) => this.full(s));
    const joined = Readable.from(
      (async function* () {
        for (const [i, f] of files.entries()) {
          try {
            yield* createReadStream(f, { highWaterMark: 1 << 20 });
          } catch (e) {
            if (isNotFound(e)) throw new PathNotFoundError(sources[i]);
            throw e;
          }
        }
      })(),
    );
    await this.atomicWrite(this.full(to), joined);
  }

  async *list(prefix: string): AsyncIterable<FileInfo> {
    if (prefix !== '') this.full(prefix, true);
    // Walk from the deepest directory the prefix names, then filter by the full prefix.
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = dirPart ? path.join(this.root, dirPart) : this.root;
    const stack: string[] = [start];
    while (stack.length) {
      const dir = stack.pop()!;
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (isNotFound(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
        throw e;
      }
      for (const ent of entries) {
        if (ent.name.startsWith(TEMP_PREFIX) || (dir === this.root && ent.name === MULTIPART_DIR)) continue;
        const full = path.join(dir, ent.name);
        const key = path.relative(this.root, full).split(path.sep).join('/');
        if (ent.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(key + '/')) stack.push(full);
        } else if (ent.isFile() && key.startsWith(prefix)) {
          try {
            const st = await fs.stat(full);
            yield { path: key, size: st.size, modTime: st.mtime };
          } catch (e) {
            if (!isNotFound(e)) throw e;
          }
        }
      }
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.full(key);
    try {
      await fs.unlink(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A directory is only a prefix of other keys, not an object: nothing to delete, as on S3.
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EPERM') return;
      throw e;
    }
    await this.pruneEmptyDirs(path.dirname(file));
  }

  /** Remove directories left empty, up to the root, so deleted repositories leave no husks. */
  private async pruneEmptyDirs(dir: string): Promise<void> {
    const root = path.resolve(this.root);
    let d = path.resolve(dir);
    while (d.startsWith(root + path.sep)) {
      try {
        await fs.rmdir(d);
      } catch {
        return;
      }
      d = path.dirname(d);
    }
  }

  /**
   * Makes `dir`, then runs `create` in it. A delete beside it prunes directories it leaves empty,
   * so `dir` can vanish between the mkdir and `create` (ENOENT), or during the mkdir itself: Node's
   * recursive mkdir answers ENOTDIR when a parent it found existing is gone by the time it stats
   * it. Either way the directory is made again; `create` must be safe to repeat after a failure.
   */
  private async inDir<T>(dir: string, create: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        await fs.mkdir(dir, { recursive: true });
        return await create();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (attempt >= DIR_RACE_ATTEMPTS || (code !== 'ENOENT' && code !== 'ENOTDIR')) throw e;
      }
    }
  }

  async deleteMany(keys: string[]): Promise<void> {
    for (const k of keys) await this.delete(k);
  }

  async deletePrefix(prefix: string): Promise<void> {
    this.full(prefix, true);
    if (prefix.endsWith('/')) {
      const dir = this.full(prefix, true);
      await fs.rm(dir, { recursive: true, force: true });
      await this.pruneEmptyDirs(path.dirname(dir));
      return;
    }
    const keys: string[] = [];
    for await (const f of this.list(prefix)) keys.push(f.path);
    await this.deleteMany(keys);
  }

  async move(from: string, to: string): Promise<void> {
    const src = this.full(from);
    const dest = this.full(to);
    try {
      await this.inDir(path.dirname(dest), () => fs.rename(src, dest));
    } catch (e) {
      if (isNotFound(e)) throw new PathNotFoundError(from);
      throw e;
    }
    await this.pruneEmptyDirs(path.dirname(src));
  }

  async copy(from: string, to: string): Promise<void> {
    await this.atomicWrite(this.full(to), await this.reader(from));
  }

  async presign(_key: string, _options: PresignOptions): Promise<string | undefined> {
    return undefined;
  }

  private partsDir(uploadId: string): string {
    if (!/^[a-f0-9-]{36}$/.test(uploadId)) throw new PathNotFoundError(`${MULTIPART_DIR}/${uploadId}`);
    return path.join(this.root, MULTIPART_DIR, uploadId);
  }

  async createMultipart(key: string): Promise<string> {
    this.full(key);
    const id = randomUUID();
    const dir = this.partsDir(id);
    await this.inDir(dir, () => fs.writeFile(path.join(dir, 'key'), key));
    return id;
  }

  async putPart(key: string, uploadId: string, partNumber: number, source: Readable, _size: number): Promise<MultipartPart> {
    await this.uploadDir(key, uploadId);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000)
      throw new RangeError(`part number out of range: ${partNumber}`);
    const size = await this.atomicWrite(this.partFile(uploadId, partNumber), source);
    return { partNumber, etag: `${partNumber}-${size}`, size };
  }

  private partFile(uploadId: string, partNumber: number): string {
    return path.join(this.partsDir(uploadId), `part-${String(partNumber).padStart(5, '0')}`);
  }

  /** The upload's directory, after checking that it exists and belongs to `key`. */
  private async uploadDir(key: string, uploadId: string): Promise<string> {
    this.full(key);
    const dir = this.partsDir(uploadId);
    if ((await fs.readFile(path.join(dir, 'key'), 'utf8').catch(() => undefined)) !== key)
      throw new PathNotFoundError(`${key} (upload ${uploadId})`);
    return dir;
  }

  async completeMultipart(key: string, uploadId: string, parts: MultipartPart[]): Promise<void> {
    const dir = await this.uploadDir(key, uploadId);
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    const files = sorted.map((p) => this.partFile(uploadId, p.partNumber));
    // Like S3, refuse parts that were never uploaded (or whose size differs) before touching `key`.
    for (const [i, f] of files.entries()) {
      const st = await fs.stat(f).catch(() => undefined);
      if (!st || st.size !== sorted[i].size) throw new PathNotFoundError(`${key} (upload ${uploadId} part ${sorted[i].partNumber})`);
    }
    if (files.length === 1) {
      // One part: a rename, not a copy.
      const dest = this.full(key);
      await this.inDir(path.dirname(dest), () => fs.rename(files[0], dest));
    } else {
      const joined = Readable.from(
        (async function* () {
          for (const f of files) yield* createReadStream(f, { highWaterMark: 1 << 20 });
        })(),
      );
      await this.atomicWrite(this.full(key), joined);
    }
    await fs.rm(dir, { recursive: true, force: true });
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    this.full(key);
    await fs.rm(this.partsDir(uploadId), { recursive: true, force: true });
  }

  async *listMultipart(prefix: string): AsyncIterable<MultipartUploadInfo> {
    const base = path.join(this.root, MULTIPART_DIR);
    let ids: string[];
    try {
      ids = await fs.readdir(base);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    for (const id of ids) {
      const keyFile = path.join(base, id, 'key');
      const key = await fs.readFile(keyFile, 'utf8').catch(() => undefined);
      if (key === undefined || !key.startsWith(prefix)) continue;
      const st = await fs.stat(keyFile);
      yield { path: key, uploadId: id, initiated: st.mtime };
    }
  }
}

/** This machine's boot id (Linux), or undefined elsewhere: writes then stay durable one by one. */
function bootId(): string | undefined {
  try {
    const id = fsCallbacks.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return id || undefined;
  } catch {
    return undefined;
  }
}
