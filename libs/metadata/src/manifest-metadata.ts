// The metadata service in-process: manifests, tags, referrers and the catalog, composed from the
// small repositories beside it. Storage holds the truth (manifest bytes as blobs, revision and tag
// link objects as distribution lays them out); Redis holds the indexes every read uses, so a pull
// never touches storage for metadata.
//
// Write order on PUT: manifest bytes -> revision link -> (Redis manifest + revision) -> tag history
// link (index entry) -> tag link -> Redis tag, tag time and tag history (one MULTI). A crash at any
// point leaves a tag pointing at a complete manifest or at its previous one, never at something
// missing. Tagging by itself (tagManifest) is the last three steps; a PUT with a tag goes through it.
//
// This class checks and orders; each repository owns its keys and links (metadata-layout.ts):
// ManifestRepository (records, revisions, cache, GC's scripts), TagRepository (tags, times,
// history), ReferrerRepository, CatalogRepository, and ManifestReindex composing them.
import type Redis from 'ioredis';
import { RegistryError, digestOf, parseManifest, isValidTag, referenceOf, type Digest, type LocalReference } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { DigestGuard, type BlobGcService, type BlobQuota, type BlobService } from '@stevedore/blobs';
import { CatalogRepository } from './catalog-repository';
import { ImageIdRepository } from './image-id-repository';
import { ManifestReindex, type ReindexReport } from './manifest-reindex';
import { ManifestReader } from './manifest-reader';
import { ManifestReadRepair, type ReadRepairOptions } from './read-repair';
import { ManifestRepository } from './manifest-repository';
import type {
  ImageIdHolder,
  ManifestDataRecord,
  ManifestGcService,
  ManifestRecord,
  MetadataService,
  Page,
  PutManifestOptions,
  PutManifestResult,
  ReferrerDescriptor,
  StoredManifest,
  TagHistoryEntry,
} from './metadata-service';
import { ReferrerRepository } from './referrer-repository';
import { TagRepository } from './tag-repository';

export interface ManifestMetadataOptions {
  maxManifestBytes: number;
  /** Namespace quotas (libs/gc), checked before a manifest is stored. */
  quota?: BlobQuota;
  /** Read repair of tags and manifests Redis lost (read-repair.ts). */
  repair?: ReadRepairOptions;
}

export interface ManifestMetadataParts {
  manifests: ManifestRepository;
  tags: TagRepository;
  referrers: ReferrerRepository;
  catalog: CatalogRepository;
  imageIds: ImageIdRepository;
  reindex: ManifestReindex;
  /** Holds a manifest and what it references from GC while it is stored and tagged. */
  guard: DigestGuard;
  /** The read side (a split gateway runs the same one in process). */
  reader: ManifestReader;
  blobs: BlobService;
  /** Layer storage's side of GC: manifest bytes live in its keyspace. */
  blobGc: Pick<BlobGcService, 'dropContent'>;
}

const unknownManifest = (details: Record<string, unknown>) =>
  new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', details);

export class ManifestMetadata implements MetadataService, ManifestGcService {
  constructor(
    private readonly parts: ManifestMetadataParts,
    private readonly options: ManifestMetadataOptions,
  ) {}

  getManifest(ref: LocalReference): Promise<StoredManifest> {
    return this.parts.reader.getManifest(ref);
  }

  async putManifest(
    ref: LocalReference,
    bytes: Buffer,
    contentType: string | undefined,
    options: PutManifestOptions = {},
  ): Promise<PutManifestResult> {
    const name = ref.name;
    if (bytes.length > this.options.maxManifestBytes) {
      throw new RegistryError('MANIFEST_INVALID', `manifest exceeds ${this.options.maxManifestBytes} bytes`, { size: bytes.length }, 413);
    }
    const byDigest = ref.digest !== undefined;
    if (!byDigest) isValidTag(referenceOf(ref));
    const parsed = parseManifest(bytes, contentType);
    const digest = ref.digest ?? parsed.digest;
    if (byDigest && digestOf(bytes, digest.startsWith('sha512:') ? 'sha512' : 'sha256') !== digest) {
      throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match its content', { expected: digest });
    }
    // The manifest and everything it references are held from GC from the check to the tag.
    const references = parsed.references.map((r) => r.digest as Digest);
    return this.parts.guard.hold([digest, ...references], async () => {
      if (!options.allowMissingReferences) await this.checkReferences(name, references);
      await this.options.quota?.reserve(name, { digest, size: bytes.length });

      // 1. bytes (layer storage keeps them content-addressed, as distribution does) 2. revision link 3. index
      await this.parts.blobs.storeContent(digest, bytes);
      await this.parts.manifests.writeLink(name, digest);
      await this.parts.manifests.index(name, digest, parsed, bytes);
      // Held and linked already: the tag is set directly, not through tagManifest's own hold and check.
      if (!byDigest) await this.parts.tags.set(name, ref.tag!, digest);
      return { digest, mediaType: parsed.mediaType, subject: parsed.subject?.digest as Digest | undefined };
    });
  }

  /** Every reference must be a manifest of the repository or one of its blobs. */
  private async checkReferences(name: string, references: Digest[]): Promise<void> {
    const missing: string[] = [];
    await Promise.all(
      references.map(async (d) => {
        if (await this.parts.manifests.isLinked(name, d)) return;
        if (!(await this.parts.blobs.stat(name, d))) missing.push(d);
      }),
    );
    if (missing.length) {
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest references a manifest or blob unknown to registry', {
        missing: missing.sort(),
      });
    }
  }

  async tagManifest(name: string, tag: string, digest: Digest): Promise<void> {
    isValidTag(tag);
    // A writer of the digest: GC cannot drop the revision between the check and the tag.
    await this.parts.guard.hold([digest], async () => {
      if (!(await this.parts.manifests.isLinked(name, digest))) throw unknownManifest({ name, digest });
      await this.parts.tags.set(name, tag, digest);
    });
  }

  // Only the current link goes; the tag's history stays (tag-repository.ts).
  deleteTag(name: string, tag: string): Promise<void> {
    return this.parts.tags.remove(name, tag);
  }

  tagsOf(name: string, digest: Digest): Promise<string[]> {
    return this.parts.tags.tagsOf(name, digest);
  }

  async deleteManifest(name: string, digest: Digest): Promise<void> {
    if (!(await this.parts.manifests.isLinked(name, digest))) throw unknownManifest({ name, digest });
    for (const tag of await this.parts.tags.tagsOf(name, digest)) await this.parts.tags.remove(name, tag);
    await this.parts.manifests.remove(name, digest);
  }

  async listTags(name: string, n?: number, last?: string): Promise<Page<string>> {
    if (!(await this.parts.catalog.has(name))) throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name });
    return this.parts.tags.page(name, n, last);
  }

  catalog(n?: number, last?: string): Promise<Page<string>> {
    return this.parts.catalog.page(n, last);
  }

  referrers(name: string, subject: Digest, artifactType?: string): Promise<ReferrerDescriptor[]> {
    return this.parts.referrers.list(name, subject, artifactType);
  }

  tagHistory(name: string, tag: string): Promise<TagHistoryEntry[]> {
    return this.parts.tags.history(name, tag);
  }

  reindex(): Promise<ReindexReport> {
    return this.parts.reindex.run();
  }

  async imageIds(prefix: string, n: number, after?: string): Promise<Digest[]> {
    await this.parts.manifests.ensureImageIds();
    return this.parts.imageIds.find(prefix, Math.min(Math.max(n, 1), 1000), after);
  }

  async imageHolders(id: Digest): Promise<ImageIdHolder[]> {
    const holders = await this.parts.imageIds.holders(id);
    return Promise.all(holders.map(async (h) => ({ ...h, tags: await this.parts.tags.tagsOf(h.name, h.digest) })));
  }

  async listManifests(name: string): Promise<ManifestRecord[]> {
    const [records, taggings] = await Promise.all([this.parts.manifests.records(name), this.parts.tags.taggings(name)]);
    for (const r of records) r.tags = taggings.get(r.digest) ?? [];
    return records;
  }

  deleteUntagged(name: string, digests: Digest[], options: { olderThan: number }): Promise<Digest[]> {
    return this.parts.manifests.removeUntagged(name, digests, options.olderThan);
  }

  listManifestData(cursor?: string): Promise<{ items: ManifestDataRecord[]; cursor?: string }> {
    return this.parts.manifests.listData(cursor);
  }

  async purgeManifestData(digests: Digest[], options: { olderThan: number }): Promise<ManifestDataRecord[]> {
    const purged = await this.parts.manifests.purgeData(digests, options.olderThan);
    // The bytes are layer storage's; it keeps them when they are also a blob or a writer came back.
    if (purged.length)
      await this.parts.blobGc.dropContent(
        purged.map((p) => p.digest),
        options,
      );
    return purged;
  }
}

/** The in-process metadata service over `storage` and `redis`: what MetadataModule provides, and what tests build. */
export function createManifestMetadata(
  storage: StorageDriver,
  redis: Redis,
  keys: RedisKeys,
  blobs: BlobService,
  blobGc: Pick<BlobGcService, 'dropContent'>,
  options: ManifestMetadataOptions,
): MetadataService & ManifestGcService {
  const guard = new DigestGuard(redis, keys);
  const catalog = new CatalogRepository(redis, keys);
  const referrers = new ReferrerRepository(redis, keys);
  const tags = new TagRepository(storage, redis, keys);
  const imageIds = new ImageIdRepository(redis, keys);
  const manifests = new ManifestRepository(storage, redis, keys, guard, catalog, referrers, imageIds);
  const reindex = new ManifestReindex(storage, blobs, manifests, tags);
  const repair = new ManifestReadRepair(manifests, tags, guard, (d) => blobs.readContent(d), options.repair);
  const reader = new ManifestReader(manifests, tags, repair);
  return new ManifestMetadata({ manifests, tags, referrers, catalog, imageIds, reindex, guard, reader, blobs, blobGc }, options);
}
