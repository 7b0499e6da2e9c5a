// Manifests: the global record per digest (media type and bytes, so a pull never reads storage),
// which repositories hold it (the revisions set, and the revision link in storage that is the
// truth), which image it is (the image-ID index, image-id-repository.ts), an in-process cache of the bytes, and GC's two scripts over them. The bytes themselves
// are layer storage's (BlobService.storeContent), written before anything here.
import type Redis from 'ioredis';
import { RegistryError, parseManifest, type Digest, type ParsedManifest } from '@stevedore/oci';
import { LRUCache } from 'lru-cache';
import { scanPage, slotMulti, type RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { SWEEP_LEASE_SECONDS, luaMayGo, type DigestGuard } from '@stevedore/blobs';
import type { CatalogRepository } from './catalog-repository';
import { imageIdOf, type ImageIdRepository } from './image-id-repository';
import { metadataKeys, metadataPaths, type MetadataKeys } from './metadata-layout';
import type { ManifestDataRecord, ManifestRecord } from './metadata-service';
import type { ReferrerRepository } from './referrer-repository';

// GC's removal of untagged manifests from one repository, per candidate digest in steps that each
// keep to one hash slot (Redis Cluster):
//   1. LEASE_UNTAGGED, the digest's slot: luaMayGo (no writer, no sweep, stamped before the cutoff)
//      and the sweep lease, so pushes and taggings of the digest (DigestGuard writers) wait;
//   2. UNLINK_UNTAGGED, the repository's slot: still untagged and a revision, then the revision and
//      its referrer entry go, atomically against tag writes (same slot);
//   3. the image holder (image-ID slot), then the revision link in storage;
//   4. the lease is released.
// A crash after 1 leaves a lease that expires (writers wait, then 429: a crashed sweep's case); after
// 2 or 3 a revision link in storage the index no longer lists, which read repair and reindex restore
// (the same state as a crash between the index update and the storage delete always was), and an
// image holder whose revision is gone, which holders() never answers with.
// KEYS: touched, writing, sweeping. ARGV: cutoff ms, lease seconds. 1: leased; <0 as luaMayGo.
const LEASE_UNTAGGED = `${luaMayGo({ touched: 1, writing: 2, sweeping: 3 })}
redis.call('SET', KEYS[3], '1', 'EX', ARGV[2])
return 1`;

// KEYS: revisions, tags, referrers (or revisions again when there is no referrer entry). ARGV: digest,
// '1' when it has a referrers entry to drop. 1 when it was removed.
const UNLINK_UNTAGGED = `
for _, d in ipairs(redis.call('HVALS', KEYS[2])) do if d == ARGV[1] then return 0 end end
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[2] == '1' then redis.call('HDEL', KEYS[3], ARGV[1]) end
return 1`;

// GC's purge of one manifest record no repository holds. KEYS: manifest, touched, writing, sweeping.
// ARGV: cutoff ms. Returns -1 busy, -2 first seen, -3 recent, else the size purged. The touched stamp
// stays: layer storage's dropContent checks it again before the bytes go (they are its keyspace).
const PURGE = `${luaMayGo({ touched: 2, writing: 3, sweeping: 4 })}
local size = redis.call('HSTRLEN', KEYS[1], 'bytes')
redis.call('DEL', KEYS[1])
return size`;

export class ManifestRepository {
  private readonly cache = new LRUCache<string, Buffer>({
    maxSize: 32 * 1024 * 1024,
    maxEntrySize: 4 * 1024 * 1024 + 256,
    sizeCalculation: (b) => b.length || 1,
  });
  private readonly k: MetadataKeys;

  constructor(
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    keys: RedisKeys,
    /** GC's stamps and leases on digests (layer storage's keyspace, shared by blobs and manifests). */
    private readonly guard: DigestGuard,
    private readonly catalog: CatalogRepository,
    private readonly referrers: ReferrerRepository,
    private readonly imageIds: ImageIdRepository,
  ) {
    this.k = metadataKeys(keys);
  }

  /** Whether repository `name` holds manifest `digest`. */
  async isLinked(name: string, digest: Digest): Promise<boolean> {
    return (await this.redis.sismember(this.k.revisions(name), digest)) === 1;
  }

  /** `digest` when repository `name` holds it, else MANIFEST_UNKNOWN. */
  async resolve(name: string, digest: Digest): Promise<Digest> {
    if (!(await this.isLinked(name, digest)))
      throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { name, reference: digest });
    return digest;
  }

  /** The record of `digest`, whichever repository holds it (the caller checks that one does). */
  async read(digest: Digest): Promise<{ mediaType: string; bytes: Buffer } | undefined> {
    // Manifest bytes are immutable per digest: a cached copy saves the second Redis round trip on every pull.
    const cached = this.cache.get(digest);
    if (cached) {
      const nl = cached.indexOf(0x0a);
      return { mediaType: cached.subarray(0, nl).toString(), bytes: cached.subarray(nl + 1) };
    }
    const raw = await this.redis.hmgetBuffer(this.k.manifest(digest), 'mediaType', 'bytes');
    if (!raw[0] || !raw[1]) return undefined;
    this.cache.set(digest, Buffer.concat([Buffer.from(raw[0].toString() + '\n'), raw[1]]));
    return { mediaType: raw[0].toString(), bytes: raw[1] };
  }

  /** For read repair: whether storage holds the revision link of `digest` in `name`. */
  async hasStoredLink(name: string, digest: Digest): Promise<boolean> {
    return (await this.storage.stat(metadataPaths.revisionLink(name, digest))) !== undefined;
  }

  /** Every manifest digest Redis says `name` holds. */
  async indexedRevisions(name: string): Promise<Digest[]> {
    return (await this.redis.smembers(this.k.revisions(name))) as Digest[];
  }

  /** Whether the global record of `digest` is in Redis. */
  async hasRecord(digest: Digest): Promise<boolean> {
    return (await this.redis.exists(this.k.manifest(digest))) === 1;
  }

  /** For the consistency pass: drop a record whose bytes storage no longer holds (nothing else of it). */
  async dropRecord(digest: Digest): Promise<void> {
    this.cache.delete(digest);
    await this.redis.del(this.k.manifest(digest));
  }

  /** For read repair: the record of a manifest whose bytes storage holds, without touching any repository's revisions. */
  async restoreRecord(digest: Digest, mediaType: string, bytes: Buffer): Promise<void> {
    await this.redis.hset(this.k.manifest(digest), 'mediaType', mediaType, 'bytes', bytes);
  }

  /** The revision link in storage: the durable fact that `name` holds `digest` (written before the index). */
  async writeLink(name: string, digest: Digest): Promise<void> {
    await this.storage.putContent(metadataPaths.revisionLink(name, digest), digest);
  }

  /**
   * Index a manifest whose bytes and revision link are stored: its record, its revision, its
   * repository in the catalog, its referrer entry and (an image) its image ID. One MULTI on one
   * Redis. On a cluster one MULTI per slot, in this order: the record (digest slot), the image ID
   * (image-ID slot), the catalog, then the revision with its referrer entry (repository slot). The
   * revision comes last: readers (isLinked) see nothing of the manifest until it is there, and a
   * crash before it leaves a record no revision holds (GC's purge removes it), an image holder
   * holders() filters out, or the repository in the catalog while storage holds its revision link
   * (read repair and reindex index it) — states storage, the truth, already allows.
   */
  async index(
    name: string,
    digest: Digest,
    parsed: Pick<ParsedManifest, 'mediaType' | 'subject' | 'artifactType' | 'annotations' | 'isIndex' | 'references'>,
    bytes: Buffer,
  ): Promise<void> {
    const { tx, exec } = slotMulti(this.redis);
    tx(this.k.manifest(digest)).hset(this.k.manifest(digest), 'mediaType', parsed.mediaType, 'bytes', bytes);
    const id = imageIdOf(parsed);
    if (id) this.imageIds.queueAdd(tx(this.k.imageIds()), name, digest, id);
    this.catalog.queueAdd(tx(this.k.catalog()), name);
    const repo = tx(this.k.revisions(name));
    repo.sadd(this.k.revisions(name), digest);
    if (parsed.subject) {
      this.referrers.queueAdd(repo, name, parsed.subject.digest, {
        mediaType: parsed.mediaType,
        digest,
        size: bytes.length,
        artifactType: parsed.artifactType,
        annotations: parsed.annotations,
      });
    }
    await exec();
  }

  /**
   * The image-ID index of a Redis an older version indexed (revisions, no image-ID keys): every
   * revision of every repository in the catalog added once, then marked complete. Idempotent, so
   * two processes backfilling at once only repeat each other; a no-op once marked.
   */
  async ensureImageIds(): Promise<void> {
    if (await this.imageIds.isComplete()) return;
    let last: string | undefined;
    do {
      const page = await this.catalog.page(1000, last);
      for (const name of page.items) {
        const found: Array<[Digest, Digest]> = [];
        for (const d of (await this.redis.smembers(this.k.revisions(name))) as Digest[]) {
          const record = await this.read(d);
          if (!record) continue;
          try {
            const id = imageIdOf(parseManifest(record.bytes, record.mediaType));
            if (id) found.push([d, id]);
          } catch {
            // Unparseable: no image.
          }
        }
        if (!found.length) continue;
        // Every image-ID key is in one slot (metadata-layout.ts): one MULTI on a cluster too.
        const { tx, exec } = slotMulti(this.redis);
        for (const [d, id] of found) this.imageIds.queueAdd(tx(this.k.imageIds()), name, d, id);
        await exec();
      }
      last = page.next;
    } while (last);
    await this.imageIds.markComplete();
  }

  /** Reindex indexed every revision, image IDs with them. */
  markImageIdsComplete(): Promise<void> {
    return this.imageIds.markComplete();
  }

  /** Unlink `digest` from `name` (the caller removed its tags): revision, referrer entry, image holder, then the link. */
  async remove(name: string, digest: Digest): Promise<void> {
    const { subject, imageId } = await this.factsOf(digest);
    await this.redis.srem(this.k.revisions(name), digest);
    if (subject) await this.referrers.remove(name, subject, digest);
    if (imageId) await this.imageIds.remove(name, digest, imageId);
    await this.storage.delete(metadataPaths.revisionLink(name, digest));
  }

  /** The subject a stored manifest refers to and the image it is, if any: the entries its index wrote. */
  private async factsOf(digest: Digest): Promise<{ subject?: string; imageId?: Digest }> {
    const raw = await this.redis.hgetBuffer(this.k.manifest(digest), 'bytes');
    if (!raw) return {};
    try {
      const parsed = parseManifest(raw, undefined);
      return { subject: parsed.subject?.digest, imageId: imageIdOf(parsed) };
    } catch {
      // A manifest that no longer parses has no referrer entry or image ID to remove.
      return {};
    }
  }

  /** Every manifest of `name` as GC sees it, without tags (the tag repository has those). */
  async records(name: string): Promise<ManifestRecord[]> {
    const digests = (await this.redis.smembers(this.k.revisions(name))) as Digest[];
    const records = await Promise.all(
      digests.map(async (d): Promise<ManifestRecord | undefined> => {
        const [[mediaType, bytes], touched] = await Promise.all([
          this.redis.hmgetBuffer(this.k.manifest(d), 'mediaType', 'bytes'),
          this.redis.get(this.guard.touchedKey(d)),
        ]);
        if (!mediaType || !bytes) return undefined;
        const record: ManifestRecord = { digest: d, mediaType: mediaType.toString(), size: bytes.length, references: [], tags: [] };
        if (touched !== null) record.touched = Number(touched);
        try {
          const parsed = parseManifest(bytes, record.mediaType);
          record.references = parsed.references.map((r) => r.digest as Digest);
          if (parsed.subject) record.subject = parsed.subject.digest as Digest;
        } catch {
          // Unparseable: it references nothing GC could follow.
        }
        return record;
      }),
    );
    return records.filter((r): r is ManifestRecord => r !== undefined);
  }

  /** GC: unlink those of `digests` still untagged, not being written and untouched since `olderThan` (LEASE_UNTAGGED, UNLINK_UNTAGGED). */
  async removeUntagged(name: string, digests: Digest[], olderThan: number): Promise<Digest[]> {
    const removed = await Promise.all(digests.map((d) => this.removeOneUntagged(name, d, olderThan)));
    return digests.filter((_, i) => removed[i]);
  }

  private async removeOneUntagged(name: string, d: Digest, olderThan: number): Promise<boolean> {
    const [touched, writing, sweeping] = this.guard.mayGoKeys(d);
    if ((await this.redis.eval(LEASE_UNTAGGED, 3, touched, writing, sweeping, olderThan, SWEEP_LEASE_SECONDS)) !== 1) return false;
    try {
      const { subject, imageId } = await this.factsOf(d);
      const referrers = subject ? this.k.referrers(name, subject) : this.k.revisions(name);
      const unlinked = await this.redis.eval(
        UNLINK_UNTAGGED,
        3,
        this.k.revisions(name),
        this.k.tags(name),
        referrers,
        d,
        subject ? '1' : '0',
      );
      if (unlinked !== 1) return false;
      if (imageId) await this.imageIds.remove(name, d, imageId);
      await this.storage.delete(metadataPaths.revisionLink(name, d));
      return true;
    } finally {
      await this.redis.del(sweeping);
    }
  }

  /** One SCAN page of every manifest record (every master's, on a cluster). */
  async listData(cursor = '0'): Promise<{ items: ManifestDataRecord[]; cursor?: string }> {
    const page = await scanPage(this.redis, this.k.manifestPattern, cursor);
    const items = await Promise.all(
      page.keys.map(async (key): Promise<ManifestDataRecord> => {
        const digest = this.k.manifestDigestOf(key) as Digest;
        const [size, touched] = await Promise.all([this.redis.hstrlen(key, 'bytes'), this.redis.get(this.guard.touchedKey(digest))]);
        return touched === null ? { digest, size } : { digest, size, touched: Number(touched) };
      }),
    );
    return page.cursor === undefined ? { items } : { items, cursor: page.cursor };
  }

  /** GC: delete the records of `digests` (no repository holds them) that PURGE lets go; returns those purged. */
  async purgeData(digests: Digest[], olderThan: number): Promise<ManifestDataRecord[]> {
    const outcomes = await Promise.all(
      digests.map((d) => this.redis.eval(PURGE, 4, this.k.manifest(d), ...this.guard.mayGoKeys(d), olderThan) as Promise<number>),
    );
    const purged: ManifestDataRecord[] = [];
    digests.forEach((d, i) => {
      if (outcomes[i] < 0) return;
      purged.push({ digest: d, size: outcomes[i] });
      this.cache.delete(d);
    });
    return purged;
  }
}
