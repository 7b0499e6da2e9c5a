// S3 (MinIO in production, any S3 such as Ceph RGW in tests) through the `minio` client, path-style.
// putObject streams with multipart under the hood, so a blob is visible only once complete.
import { Client } from 'minio';
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

export interface S3DriverOptions {
  /** e.g. http://127.0.0.1:7480 */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region?: string;
}

const MIN_PART = 5 * 1024 * 1024;

function isNotFound(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === 'NotFound' || code === 'NoSuchKey' || code === 'NoSuchUpload';
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

  constructor(private readonly options: S3DriverOptions) {
    const u = new URL(options.endpoint);
    this.client = new Client({
      endPoint: u.hostname,
      port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80,
      useSSL: u.protocol === 'https:',
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: options.region ?? 'us-east-1',
      pathStyle: true,
    });
    this.bucket = options.bucket;
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
    let bytes = 0;
    source.on('data', (c: Buffer) => (bytes += c.length));
    // With a size the client picks the part size itself (within S3's 10,000 parts); without one it
    // uses its 64 MiB default, which covers objects up to ~640 GB.
    await this.client.putObject(this.bucket, key, source, sizeHint);
    return bytes;
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
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000).map((k) => checkKey(k));
      const res = await this.client.removeObjects(this.bucket, batch);
      const failed = (res as Array<{ Error?: { Code?: string; Key?: string } }>).filter((r) => r.Error && r.Error.Code !== 'NoSuchKey');
      if (failed.length) throw new Error(`S3 DeleteObjects failed for ${failed.length} keys (first: ${failed[0].Error?.Key} ${failed[0].Error?.Code})`);
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
    const r = await this.client.uploadPart({ bucketName: this.bucket, objectName: checkKey(key), uploadID: uploadId, partNumber, headers: {} }, payload);
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
