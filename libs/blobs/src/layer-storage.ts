// Layer storage: content-addressed blobs and resumable uploads over a StorageDriver, indexed in
// Redis. A thin service over its repositories (blob bytes and index, repository links, upload
// sessions, GC's sweep); what it adds is the order of their steps, the DigestGuard holds that make
// each write safe against online GC, and the quota check before anything is linked.
//
// Write order: blob bytes -> link object -> Redis index. Readers consult only Redis (no storage
// stat on the hot path); `reindex` rebuilds Redis from the link objects.
import type { Readable } from 'node:stream';
import type Redis from 'ioredis';
import { RegistryError, verifyDigest, type Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { BlobRepository, type BlobRepositoryOptions } from './blob-repository';
import type {
  BlobContent,
  BlobGcService,
  BlobInfo,
  BlobQuota,
  BlobRecord,
  BlobService,
  BlobSweepItem,
  BlobSweepResult,
  ByteRange,
  OpenOptions,
  UploadPurgeReport,
  UploadStatus,
} from './blob-service';
import { BlobSweeper } from './blob-sweeper';
import { DigestGuard } from './digest-guard';
import { LinkRepository } from './link-repository';
import { UploadRepository, type VerifiedUpload } from './upload-repository';

export interface LayerStorageOptions extends BlobRepositoryOptions {
  /** Namespace quotas (libs/gc), checked before a blob is linked. */
  quota?: BlobQuota;
  /** Called when a pull finds a link in storage that Redis had lost and writes it back (a metric). */
  onRepair?: () => void;
}

export class LayerStorage implements BlobService, BlobGcService {
  constructor(
    private readonly blobs: BlobRepository,
    private readonly links: LinkRepository,
    private readonly uploads: UploadRepository,
    private readonly sweeper: BlobSweeper,
    private readonly guard: DigestGuard,
    private readonly quota?: BlobQuota,
    private readonly onRepair?: () => void,
  ) {}

  exists(digest: Digest): Promise<BlobInfo | undefined> {
    return this.blobs.exists(digest);
  }

  stat(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    return this.links.stat(name, digest);
  }

  async open(name: string, digest: Digest, options: OpenOptions = {}): Promise<BlobContent> {
    const info = await this.links.statOrRepair(name, digest, this.guard, this.onRepair);
    if (!info) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
    return this.blobs.open(info, options);
  }

  startUpload(name: string): Promise<UploadStatus> {
    return this.uploads.start(name);
  }

  uploadStatus(name: string, id: string): Promise<UploadStatus> {
    return this.uploads.status(name, id);
  }

  appendChunk(name: string, id: string, body: Readable, range?: ByteRange, length?: number): Promise<UploadStatus> {
    return this.uploads.append(name, id, body, range, length);
  }

  async completeUpload(name: string, id: string, digest: Digest, body?: Readable, length?: number): Promise<BlobInfo> {
    if (body && this.blobs.writesInPlace && (await this.uploads.isUnstarted(name, id)))
      return this.completeWhole(name, id, digest, body, length);
    const upload = await this.uploads.verify(name, id, digest, body, length);
    try {
      await this.placeAndLink(name, upload);
    } catch (e) {
      // Over quota is final for this upload; any other failure leaves the session to retry.
      if (e instanceof RegistryError && e.code === 'DENIED') await this.uploads.discard(name, id);
      throw e;
    }
    await this.uploads.discard(name, id);
    return upload.info;
  }

  /**
   * The whole blob in the completing request of a session no chunk reached: written once, beside its
   * place, checked (digest, size, quota) and renamed there, then linked, as a DigestGuard writer.
   * Same outcomes as the chunked path: a mismatch or over quota ends the session, anything else
   * leaves it to retry.
   */
  private async completeWhole(name: string, id: string, digest: Digest, body: Readable, length?: number): Promise<BlobInfo> {
    let info: BlobInfo;
    try {
      info = await this.guard.hold([digest], async () => {
        const placed = await this.blobs.writeVerified(digest, body, length, async (i) => {
          await this.quota?.reserve(name, i);
        });
        await this.commitLink(name, placed);
        return placed;
      });
    } catch (e) {
      if (e instanceof RegistryError && (e.code === 'DENIED' || e.code === 'DIGEST_INVALID' || e.code === 'SIZE_INVALID')) {
        await this.uploads.forget(id);
      }
      throw e;
    }
    await this.uploads.forget(id);
    return info;
  }

  cancelUpload(name: string, id: string): Promise<void> {
    return this.uploads.cancel(name, id);
  }

  async mount(name: string, from: string, digest: Digest): Promise<BlobInfo | undefined> {
    await this.guard.begin([digest]);
    let linked: BlobInfo | undefined;
    try {
      const info = await this.links.stat(from, digest);
      if (info) {
        await this.quota?.reserve(name, info);
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
        const info = await this.blobs.exists(expected);
        if (info) {
          await this.quota?.reserve(name, info);
          await this.commitLink(name, info);
        }
        return info;
      });
      if (have) {
        body.resume();
        return have;
      }
    }
    return this.uploads.stage(name, body, sizeHint, async (staged) => {
      if (expected) verifyDigest(expected, staged.info.digest);
      await this.placeAndLink(name, staged);
      return staged.info;
    });
  }

  unlink(name: string, digest: Digest): Promise<void> {
    return this.links.unlink(name, digest);
  }

  async reindex(): Promise<number> {
    const blobs = await this.blobs.reindex();
    await this.links.reindex((d) => this.blobs.exists(d));
    return blobs;
  }

  storeContent(digest: Digest, bytes: Buffer): Promise<void> {
    return this.blobs.storeContent(digest, bytes);
  }

  readContent(digest: Digest): Promise<Buffer | undefined> {
    return this.blobs.readContent(digest);
  }

  dropContent(digests: Digest[], options: { olderThan: number }): Promise<Digest[]> {
    return this.blobs.dropContent(digests, options);
  }

  listBlobs(cursor?: string): Promise<{ items: BlobRecord[]; cursor?: string }> {
    return this.blobs.listBlobs(cursor);
  }

  listLinks(name: string): Promise<Digest[]> {
    return this.links.listLinks(name);
  }

  sweepBlobs(items: BlobSweepItem[], options: { olderThan: number }): Promise<BlobSweepResult> {
    return this.sweeper.sweep(items, options);
  }

  purgeUploads(options: { olderThan: number; dryRun?: boolean }): Promise<UploadPurgeReport> {
    return this.uploads.purge(options);
  }

  /** Verified bytes become the blob (unless it exists already) and are linked, as a DigestGuard writer. */
  private async placeAndLink(name: string, upload: VerifiedUpload): Promise<void> {
    const { info } = upload;
    await this.guard.hold([info.digest], async () => {
      await this.quota?.reserve(name, info);
      if (!(await this.blobs.exists(info.digest))) await this.blobs.place(info.digest, upload.chunks);
      await this.commitLink(name, info);
    });
  }

  /**
   * Bytes are durable: record them globally and link them into the repository, side by side (the
   * global record only says the durable bytes exist; the link writes its file before its index entry).
   */
  private async commitLink(name: string, info: BlobInfo): Promise<void> {
    await Promise.all([this.blobs.index(info), this.links.link(name, info.digest)]);
  }
}

/** Layer storage over `storage` and `redis`, as BlobsModule provides it (and as tests build it). */
export function createLayerStorage(
  storage: StorageDriver,
  redis: Redis,
  keys: RedisKeys,
  options: LayerStorageOptions = {},
): BlobService & BlobGcService {
  const guard = new DigestGuard(redis, keys);
  const blobs = new BlobRepository(storage, redis, keys, guard, options);
  return new LayerStorage(
    blobs,
    new LinkRepository(storage, redis, keys),
    new UploadRepository(storage, redis, keys),
    new BlobSweeper(storage, redis, keys, guard, blobs),
    guard,
    options.quota,
    options.onRepair,
  );
}
