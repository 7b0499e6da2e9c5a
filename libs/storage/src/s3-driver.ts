// S3 (MinIO in production, any S3 such as Ceph RGW in tests) through the `minio` client, path-style.
// putObject streams with multipart under the hood, so a blob is visible only once complete.
import { Client, CopyDestinationOptions, CopySourceOptions } from 'minio';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import {
  PathNotFoundError,
  type FileInfo,
  type MultipartPart,
  type MultipartUploadInfo,
  type PresignOptions,
  type ReadRange,
  type StorageDriver,
} from './storage-driver';
import { checkKey } from './keys';

/** The minio client's connection options plus the bucket; always path-style (MinIO, Ceph RGW). */
export interface S3DriverOptions {
  endPoint: string;
  port?: number;
  useSSL?: boolean;
  accessKey: string;
  secretKey: string;
  region?: string;
  bucket: string;
  /** Accepted for symmetry with the minio options; the driver is always path-style. */
  pathStyle?: boolean;
}

/** Driver options from an endpoint URL such as http://127.0.0.1:7480 (how configuration names it). */
export function s3OptionsFromUrl(endpoint: string, rest: Omit<S3DriverOptions, 'endPoint' | 'port' | 'useSSL'>): S3DriverOptions {
  const u = new URL(endpoint);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`S3 endpoint must be an http(s) URL: ${endpoint}`);
  return {
    ...rest,
    endPoint: u.hostname,
    port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80,
    useSSL: u.protocol === 'https:',
  };
}

const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;
const MAX_PARTS = 10_000;
// Parts are buffered (the client signs each body), so they start small: 8 MiB, or what a size
// hint needs to fit in 9,000 parts; they double every 1,000 parts so that a wrong or missing hint
// still reaches S3's 5 TB object limit within its 10,000 parts.
const DEFAULT_PART = 8 * MiB;
const DELETE_BATCH = 1000;

function isNotFound(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === 'NotFound' || code === 'NoSuchKey' || code === 'NoSuchUpload';
}

/** Cut a stream into buffers of `size(partNumber)` bytes (the last one shorter). */
async function* partChunks(source: Readable, size: (partNumber: number) => number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let n = 1;
  for await (const chunk of source) {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    while (pendingBytes + buf.length >= size(n)) {
      const take = size(n) - pendingBytes;
      pending.push(buf.subarray(0, take));
      yield Buffer.concat(pending);
      n++;
      buf = buf.subarray(take);
      pending = [];
      pendingBytes = 0;
    }
    if (buf.length) {
      pending.push(buf);
      pendingBytes += buf.length;
    }
  }
  if (pendingBytes || n === 1) yield Buffer.concat(pending);
}

async function toBuffer(src: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of src) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly minPartSize = MIN_PART;
  readonly client: Client;
  readonly bucket: string;
  private readonly agent: http.Agent;

  constructor(private readonly options: S3DriverOptions) {
    // Our own pool rather than Node's global agent: close() can end its sockets, including those
    // the client leaves open when it retries a 5xx without reading the body (the server keeps
    // such a socket for a minute, and it keeps a process from exiting).
    this.agent = options.useSSL ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.client = new Client({
      transportAgent: this.agent,
      endPoint: options.endPoint,
      port: options.port,
      useSSL: options.useSSL ?? false,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: options.region ?? 'us-east-1',
      pathStyle: true,
    });
    this.bucket = options.bucket;
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  /** Create the bucket when it does not exist yet. */
  async ensureBucket(): Promise<void> {
    if (!(await this.client.bucketExists(this.bucket))) {
      try {
        await this.client.makeBucket(this.bucket, this.options.region ?? 'us-east-1');
      } catch (e) {
        // Another replica may have created it in between.
        if ((e as { code?: string }).code !== 'BucketAlreadyOwnedByYou') throw e;
      }
    }
  }

  async stat(key: string): Promise<FileInfo | undefined> {
    try {
      const st = await this.client.statObject(this.bucket, checkKey(key));
      return { path: key, size: st.size, modTime: st.lastModified };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async getContent(key: string): Promise<Buffer> {
    return toBuffer(await this.reader(key));
  }

  async putContent(key: string, content: Buffer | string): Promise<void> {
    const buf = Buffer.from(content);
    await this.client.putObject(this.bucket, checkKey(key), buf, buf.length);
  }

  async reader(key: string, range: ReadRange = {}): Promise<Readable> {
    checkKey(key);
    try {
      if (range.offset || range.length !== undefined) {
        if (range.length === 0) return Readable.from([]);
        return await this.client.getPartialObject(this.bucket, key, range.offset ?? 0, range.length);
      }
      return await this.client.getObject(this.bucket, key);
    } catch (e) {
      if (isNotFound(e)) throw new PathNotFoundError(key);
      throw e;
    }
  }

  async writeStream(key: string, source: Readable, sizeHint?: number): Promise<number> {
    checkKey(key);
    // Our own part loop rather than putObject's: putObject resumes any unfinished upload it finds
    // for the same key, so two concurrent writers of one key (two pushes of one blob) would share
    // an upload id and one would fail or corrupt the other.
    const base = Math.max(DEFAULT_PART, Math.ceil((sizeHint ?? 0) / (MAX_PARTS - 1000) / MiB) * MiB);
    const partSize = (n: number) => base * 2 ** Math.floor((n - 1) / 1000);
    const chunks = partChunks(source, partSize);
    const first = await chunks.next();
    const firstBuf = first.done ? Buffer.alloc(0) : first.value;
    const second = first.done ? first : await chunks.next();
    if (second.done) {
      // Fits in one part: a single PUT, the cheapest request and atomic by nature.
      await this.client.putObject(this.bucket, key, firstBuf, firstBuf.length);
      return firstBuf.length;
    }
    const uploadId = await this.client.initiateNewMultipartUpload(this.bucket, key, {});
    try {
      const parts: MultipartPart[] = [];
      let n = 1;
      let bytes = 0;
      const upload = async (buf: Buffer) => {
        const r = await this.client.uploadPart(
          { bucketName: this.bucket, objectName: key, uploadID: uploadId, partNumber: n, headers: {} },
          buf,
        );
        parts.push({ partNumber: n++, etag: r.etag, size: buf.length });
        bytes += buf.length;
      };
      await upload(firstBuf);
      await upload(second.value);
      for (let c = await chunks.next(); !c.done; c = await chunks.next()) await upload(c.value);
      await this.completeMultipart(key, uploadId, parts);
      return bytes;
    } catch (e) {
      await this.abortMultipart(key, uploadId).catch(() => undefined);
      throw e;
    }
  }

  async *list(prefix: string): AsyncIterable<FileInfo> {
    if (prefix !== '') checkKey(prefix, true);
    const stream = this.client.listObjectsV2(this.bucket, prefix, true);
    for await (const item of stream as AsyncIterable<{ name?: string; size: number; lastModified: Date }>) {
      if (item.name) yield { path: item.name, size: item.size, modTime: item.lastModified };
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.removeObject(this.bucket, checkKey(key));
  }

  async deleteMany(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH).map((k) => checkKey(k));
      const res = await this.client.removeObjects(this.bucket, batch);
      const failed = (res as Array<{ Error?: { Code?: string; Key?: string } }>).filter((r) => r.Error && r.Error.Code !== 'NoSuchKey');
      if (failed.length)
        throw new Error(`S3 DeleteObjects failed for ${failed.length} keys (first: ${failed[0].Error?.Key} ${failed[0].Error?.Code})`);
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    checkKey(prefix, true);
    const keys: string[] = [];
    for await (const f of this.list(prefix)) keys.push(f.path);
    await this.deleteMany(keys);
  }

  async copy(from: string, to: string): Promise<void> {
    try {
      await this.client.copyObject(this.bucket, checkKey(to), `/${this.bucket}/${checkKey(from)}`);
    } catch (e) {
      if (isNotFound(e)) throw new PathNotFoundError(from);
      throw e;
    }
  }

  async concat(sources: string[], to: string): Promise<void> {
    checkKey(to);
    if (sources.length === 1) return this.copy(sources[0], to);
    const sizes: number[] = [];
    for (const s of sources) {
      const info = await this.stat(s);
      if (!info) throw new PathNotFoundError(s);
      sizes.push(info.size);
    }
    // UploadPartCopy: the bytes never leave the store, but every part but the last must hold 5 MiB.
    if (sources.length <= MAX_PARTS && sizes.slice(0, -1).every((n) => n >= MIN_PART)) {
      await this.client.composeObject(
        new CopyDestinationOptions({ Bucket: this.bucket, Object: to }),
        sources.map((s) => new CopySourceOptions({ Bucket: this.bucket, Object: s })),
      );
      return;
    }
    const readers = sources.map((s) => () => this.reader(s));
    const joined = Readable.from(
      (async function* () {
        for (const open of readers) yield* await open();
      })(),
    );
    await this.writeStream(
      to,
      joined,
      sizes.reduce((a, b) => a + b, 0),
    );
  }

  async move(from: string, to: string): Promise<void> {
    await this.copy(from, to);
    await this.delete(from);
  }

  async presign(key: string, options: PresignOptions): Promise<string | undefined> {
    return this.client.presignedUrl(options.method, this.bucket, checkKey(key), options.expirySeconds);
  }

  async createMultipart(key: string): Promise<string> {
    return this.client.initiateNewMultipartUpload(this.bucket, checkKey(key), {});
  }

  async putPart(key: string, uploadId: string, partNumber: number, source: Readable, _size: number): Promise<MultipartPart> {
    // minio-js uploads a part from a buffer; parts are bounded (5 MiB .. a blob's share), never a whole blob.
    const payload = await toBuffer(source);
    const r = await this.client.uploadPart(
      { bucketName: this.bucket, objectName: checkKey(key), uploadID: uploadId, partNumber, headers: {} },
      payload,
    );
    return { partNumber, etag: r.etag, size: payload.length };
  }

  async completeMultipart(key: string, uploadId: string, parts: MultipartPart[]): Promise<void> {
    const etags = [...parts].sort((a, b) => a.partNumber - b.partNumber).map((p) => ({ part: p.partNumber, etag: p.etag }));
    await this.client.completeMultipartUpload(this.bucket, checkKey(key), uploadId, etags);
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.abortMultipartUpload(this.bucket, checkKey(key), uploadId);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async *listMultipart(prefix: string): AsyncIterable<MultipartUploadInfo> {
    const stream = this.client.listIncompleteUploads(this.bucket, prefix, true);
    for await (const u of stream as AsyncIterable<{ key: string; uploadId: string; initiated?: Date }>) {
      yield { path: u.key, uploadId: u.uploadId, initiated: u.initiated ?? new Date(0) };
    }
  }
}
