// Layer storage's half of the consistency pass (libs/metadata consistency-pass.ts drives it): a
// repository's layer links and the global blob records, compared with storage and repaired in
// Redis. Storage is read through the same readers reindex and read repair use (the layout's
// parsers, LinkRepository, BlobRepository); this file only orders the steps and holds the guard.
//
// Why each repair is safe against writes in flight (writers link storage first, then Redis, as
// DigestGuard writers; unlink and GC's sweep drop Redis first, then storage, GC under a lease):
// - add a link (object there, Redis lacks it): LinkRepository.statOrRepair, read repair's own
//   write-back: as a writer of the digest, so a GC sweep of it has finished (begin waits for its
//   lease) before the link and the bytes are looked at, and checked again after writing back.
// - remove a link or a blob record (Redis has it, storage does not): under a sweep lease on the
//   digest (DigestGuard.sweep), taken only while no writer holds it and making new writers wait,
//   and storage is looked at again inside it. A push that linked the digest before the lease wrote
//   storage first, so the look sees it and nothing is removed; one after the lease waits for it and
//   writes its own entry after ours went. A concurrent unlink only removes too.
import type Redis from 'ioredis';
import type { Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { blobPaths } from './blob-layout';
import { BlobRepository } from './blob-repository';
import { diffSets, type Finding } from './consistency-diff';
import { DigestGuard } from './digest-guard';
import { LinkRepository } from './link-repository';

/** How many storage stats of one page run at once. */
const STAT_CONCURRENCY = 32;

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

export class BlobConsistency {
  constructor(
    private readonly links: LinkRepository,
    private readonly blobs: BlobRepository,
    private readonly guard: DigestGuard,
  ) {}

  /** The repository a storage path under repositories/ is a layer link of (reindex's parser). */
  repositoryOfPath(path: string): string | undefined {
    return blobPaths.parseLayerLink(path)?.name;
  }

  /** The digests Redis links into `name`. */
  indexedLinks(name: string): Promise<Digest[]> {
    return this.links.listLinks(name);
  }

  /** How many link objects storage holds for `name`. */
  async storedLinkCount(name: string): Promise<number> {
    return (await this.links.storedLinks(name)).size;
  }

  /** Whether storage holds bytes for `digest` (a blob's or a manifest's). */
  hasData(digest: Digest): Promise<boolean> {
    return this.blobs.hasData(digest);
  }

  /** The layer links of `name`: storage's link objects against the repository's Redis set. */
  async linkFindings(name: string): Promise<Finding[]> {
    // Redis first: an entry Redis shows was stored before, so it is in the listing that follows
    // unless it was removed since (and then it goes from Redis first anyway).
    const indexed = await this.links.listLinks(name);
    return diffSets('link', name, await this.links.storedLinks(name), indexed);
  }

  /**
   * Blob records the linked `digests` lack while storage holds their bytes (a link is only read
   * with its record: LinkRepository.stat).
   */
  async blobFindings(digests: Iterable<Digest>): Promise<Finding[]> {
    const list = [...new Set(digests)].sort();
    const missing = await mapLimited(list, STAT_CONCURRENCY, async (d) => !(await this.blobs.exists(d)) && (await this.blobs.hasData(d)));
    return list.filter((_, i) => missing[i]).map((d) => ({ kind: 'blob', action: 'add', subject: d, expected: d }));
  }

  /**
   * Write back the record of a blob whose bytes storage holds, as a writer of the digest: a GC sweep
   * of it drops the record before the bytes under its lease, and begin waits for that lease, so the
   * bytes looked at here are not being deleted.
   */
  async addBlobRecord(digest: Digest): Promise<boolean> {
    return this.guard.hold([digest], async () => {
      if (await this.blobs.exists(digest)) return false;
      const size = await this.blobs.dataSize(digest);
      if (size === undefined) return false;
      await this.blobs.index({ digest, size });
      return true;
    });
  }

  /** Apply a confirmed link finding; whether the index changed. */
  async repairLink(f: Finding): Promise<boolean> {
    const name = f.repository!;
    const digest = f.subject as Digest;
    if (f.action === 'add') {
      if (await this.links.isIndexed(name, digest)) return false;
      return (await this.links.statOrRepair(name, digest, this.guard)) !== undefined;
    }
    return this.removeLinkIfGone(name, digest);
  }

  /** Drop `digest` from `name`'s links when its object is gone, under a sweep lease (see the top). */
  async removeLinkIfGone(name: string, digest: Digest): Promise<boolean> {
    const r = await this.guard.sweep(digest, async () => {
      if (!(await this.links.isIndexed(name, digest))) return false;
      if (await this.links.hasStoredLink(name, digest)) return false;
      await this.links.forget(name, digest);
      return true;
    });
    return r?.value ?? false;
  }

  /** One SCAN page of blob records: those whose bytes storage no longer holds. */
  async blobRecordPage(cursor?: string): Promise<{ findings: Finding[]; cursor?: string }> {
    const page = await this.blobs.listBlobs(cursor);
    const held = await mapLimited(page.items, STAT_CONCURRENCY, (b) => this.blobs.hasData(b.digest));
    const findings: Finding[] = page.items
      .filter((_, i) => !held[i])
      .map((b) => ({ kind: 'blob', action: 'remove', subject: b.digest, actual: String(b.size) }));
    return page.cursor ? { findings, cursor: page.cursor } : { findings };
  }

  /** Whether the blob record of `digest` is there and its bytes are not (the second look). */
  async blobRecordGone(digest: Digest): Promise<boolean> {
    return (await this.blobs.exists(digest)) !== undefined && !(await this.blobs.hasData(digest));
  }

  /** Drop the blob record of `digest` when its bytes are gone, under a sweep lease (see the top). */
  async removeBlobIfGone(digest: Digest): Promise<boolean> {
    const r = await this.guard.sweep(digest, async () => {
      if (!(await this.blobRecordGone(digest))) return false;
      await this.blobs.forget(digest);
      return true;
    });
    return r?.value ?? false;
  }
}

/** The blob half of the consistency pass over `storage` and `redis` (any process that has both). */
export function createBlobConsistency(storage: StorageDriver, redis: Redis, keys: RedisKeys): BlobConsistency {
  const guard = new DigestGuard(redis, keys);
  return new BlobConsistency(new LinkRepository(storage, redis, keys), new BlobRepository(storage, redis, keys, guard), guard);
}
