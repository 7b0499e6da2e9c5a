// BlobService over HTTP: what a split gateway or metadata-service uses to reach blob-service.
import type { Readable } from 'node:stream';
import type { Digest } from '@stevedore/oci';
import { InternalClient } from '@stevedore/platform';
import type {
  BlobContent,
  BlobInfo,
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

export class BlobServiceClient implements BlobService, BlobGcService {
  private readonly http: InternalClient;
  constructor(baseUrl: string, token?: string) {
    this.http = new InternalClient(baseUrl, token);
  }

  async stat(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    const r = await this.http.json<BlobInfo | undefined>({ method: 'GET', path: '/blobs/stat', query: { name, digest } });
    return r ?? undefined;
  }
  async exists(digest: Digest): Promise<BlobInfo | undefined> {
    const r = await this.http.json<BlobInfo | undefined>({ method: 'GET', path: '/blobs/exists', query: { digest } });
    return r ?? undefined;
  }
  async open(name: string, digest: Digest, options: OpenOptions = {}): Promise<BlobContent> {
    const r = await this.http.call({
      method: 'GET',
      path: '/blobs/content',
      query: { name, digest, start: options.range?.start, end: options.range?.end, redirect: options.allowRedirect ? 1 : undefined },
    });
    const size = Number(r.headers['x-blob-size']);
    const info = { digest, size };
    const redirect = r.headers['x-redirect-url'];
    if (typeof redirect === 'string') {
      r.body.resume();
      return { info, redirectUrl: redirect };
    }
    const rs = r.headers['x-range-start'];
    const range = rs !== undefined ? { start: Number(rs), end: Number(r.headers['x-range-end']) } : undefined;
    return { info, stream: r.body, range };
  }
  startUpload(name: string): Promise<UploadStatus> {
    return this.http.json({ method: 'POST', path: '/uploads', query: { name } });
  }
  uploadStatus(name: string, id: string): Promise<UploadStatus> {
    return this.http.json({ method: 'GET', path: `/uploads/${encodeURIComponent(id)}`, query: { name } });
  }
  appendChunk(name: string, id: string, body: Readable, range?: ByteRange, length?: number): Promise<UploadStatus> {
    return this.http.json({ method: 'PATCH', path: `/uploads/${encodeURIComponent(id)}`, query: { name, start: range?.start, end: range?.end, length }, body });
  }
  completeUpload(name: string, id: string, digest: Digest, body?: Readable, length?: number): Promise<BlobInfo> {
    return this.http.json({ method: 'PUT', path: `/uploads/${encodeURIComponent(id)}`, query: { name, digest, length, body: body ? 1 : undefined }, body });
  }
  async cancelUpload(name: string, id: string): Promise<void> {
    await this.http.json({ method: 'DELETE', path: `/uploads/${encodeURIComponent(id)}`, query: { name } });
  }
  async mount(name: string, from: string, digest: Digest): Promise<BlobInfo | undefined> {
    const r = await this.http.json<BlobInfo | undefined>({ method: 'POST', path: '/blobs/mount', query: { name, from, digest } });
    return r ?? undefined;
  }
  putBlob(name: string, body: Readable, expected?: Digest, sizeHint?: number): Promise<BlobInfo> {
    return this.http.json({ method: 'POST', path: '/blobs', query: { name, expected, sizeHint }, body });
  }
  async unlink(name: string, digest: Digest): Promise<void> {
    await this.http.json({ method: 'DELETE', path: '/blobs', query: { name, digest } });
  }
  async reindex(): Promise<number> {
    const r = await this.http.json<{ blobs: number }>({ method: 'POST', path: '/blobs/reindex' });
    return r.blobs;
  }
  listBlobs(cursor?: string): Promise<{ items: BlobRecord[]; cursor?: string }> {
    return this.http.json({ method: 'GET', path: '/gc/blobs', query: { cursor } });
  }
  listLinks(name: string): Promise<Digest[]> {
    return this.http.json({ method: 'GET', path: '/gc/links', query: { name } });
  }
  sweepBlobs(items: BlobSweepItem[], options: { olderThan: number }): Promise<BlobSweepResult> {
    return this.http.json({ method: 'POST', path: '/gc/blobs/sweep', json: { items, olderThan: options.olderThan } });
  }
  purgeUploads(options: { olderThan: number; dryRun?: boolean }): Promise<UploadPurgeReport> {
    return this.http.json({ method: 'POST', path: '/gc/uploads/purge', query: { olderThan: options.olderThan, dryRun: options.dryRun ? 1 : undefined } });
  }
}
