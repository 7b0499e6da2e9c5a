// The manifest read side: a GET or HEAD of a manifest by tag or digest, from Redis and a cache by
// digest (manifests are immutable per digest; whether the repository holds it is asked of Redis on
// every read). ManifestMetadata serves reads through it, and a process that does not host metadata
// (a split gateway) runs it in process instead of an RPC round trip per pull: it reads the
// keyspace metadata owns and writes it only to repair what Redis lost (read-repair.ts), through
// metadata's own repositories.
import type Redis from 'ioredis';
import { RegistryError, isDigest, parseDigest, referenceOf, type Digest, type LocalReference } from '@stevedore/oci';
import { unlessRedisUnavailable, type RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { DigestGuard, createBlobReader } from '@stevedore/blobs';
import { CatalogRepository } from './catalog-repository';
import { ImageIdRepository } from './image-id-repository';
import { ManifestRepository } from './manifest-repository';
import type { MetadataService, StoredManifest } from './metadata-service';
import { ManifestReadRepair, type ReadRepairOptions } from './read-repair';
import { ReferrerRepository } from './referrer-repository';
import { TagRepository } from './tag-repository';

const unknownManifest = (details: Record<string, unknown>) =>
  new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', details);

export class ManifestReader implements Pick<MetadataService, 'getManifest'> {
  constructor(
    private readonly manifests: ManifestRepository,
    private readonly tags: TagRepository,
    /** Looks in storage for what Redis does not know (absent: Redis is the only answer). */
    private readonly repair?: ManifestReadRepair,
  ) {}

  async getManifest(ref: LocalReference): Promise<StoredManifest> {
    // Redis gone for the moment: a pull still gets what storage holds (writes answer 503 meanwhile).
    return unlessRedisUnavailable(this.fromIndex(ref), async (e) => {
      const stored = await this.repair?.readStored(ref.name, referenceOf(ref));
      if (!stored) throw e;
      return { digest: stored.digest, mediaType: stored.mediaType, size: stored.bytes.length, bytes: stored.bytes };
    });
  }

  private async fromIndex(ref: LocalReference): Promise<StoredManifest> {
    const name = ref.name;
    const reference = referenceOf(ref);
    let digest: Digest;
    if (isDigest(reference)) {
      const linked = (await this.manifests.isLinked(name, reference)) || (await this.repair?.revision(name, reference));
      if (!linked) throw unknownManifest({ name, reference });
      digest = reference;
    } else {
      if (reference.includes(':')) parseDigest(reference);
      const tagged = (await this.tags.current(name, reference)) ?? (await this.repair?.tag(name, reference));
      if (!tagged) throw unknownManifest({ name, tag: reference });
      digest = tagged;
    }
    // After the repository check above: the record is global per digest.
    const record = (await this.manifests.read(digest)) ?? (await this.repair?.record(digest));
    if (!record) throw unknownManifest({ name, reference });
    return { digest, mediaType: record.mediaType, size: record.bytes.length, bytes: record.bytes };
  }
}

/** The read side alone, for a process that reaches the rest of metadata over RPC. */
export function createManifestReader(
  storage: StorageDriver,
  redis: Redis,
  keys: RedisKeys,
  repair: ReadRepairOptions = {},
): ManifestReader {
  const guard = new DigestGuard(redis, keys);
  const manifests = new ManifestRepository(
    storage,
    redis,
    keys,
    guard,
    new CatalogRepository(redis, keys),
    new ReferrerRepository(redis, keys),
    new ImageIdRepository(redis, keys),
  );
  const tags = new TagRepository(storage, redis, keys);
  return new ManifestReader(
    manifests,
    tags,
    new ManifestReadRepair(manifests, tags, guard, createBlobReader(storage, redis, keys).readContent, repair),
  );
}
