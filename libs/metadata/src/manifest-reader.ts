// The manifest read side: a GET or HEAD of a manifest by tag or digest, from Redis and a cache by
// digest (manifests are immutable per digest; whether the repository holds it is asked of Redis on
// every read). ManifestMetadata serves reads through it, and a process that does not host metadata
// (a split gateway) runs it in process instead of an RPC round trip per pull: it reads the
// keyspace metadata owns and never writes it.
import type Redis from 'ioredis';
import { RegistryError, isDigest, parseDigest, referenceOf, type Digest, type LocalReference } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { DigestGuard } from '@stevedore/blobs';
import { CatalogRepository } from './catalog-repository';
import { ImageIdRepository } from './image-id-repository';
import { ManifestRepository } from './manifest-repository';
import type { MetadataService, StoredManifest } from './metadata-service';
import { ReferrerRepository } from './referrer-repository';
import { TagRepository } from './tag-repository';

const unknownManifest = (details: Record<string, unknown>) =>
  new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', details);

export class ManifestReader implements Pick<MetadataService, 'getManifest'> {
  constructor(
    private readonly manifests: ManifestRepository,
    private readonly tags: TagRepository,
  ) {}

  async getManifest(ref: LocalReference): Promise<StoredManifest> {
    const name = ref.name;
    const reference = referenceOf(ref);
    let digest: Digest;
    if (isDigest(reference)) digest = await this.manifests.resolve(name, reference);
    else {
      if (reference.includes(':')) parseDigest(reference);
      const tagged = await this.tags.current(name, reference);
      if (!tagged) throw unknownManifest({ name, tag: reference });
      digest = tagged;
    }
    // After the repository check above: the record is global per digest.
    const record = await this.manifests.read(digest);
    if (!record) throw unknownManifest({ name, reference });
    return { digest, mediaType: record.mediaType, size: record.bytes.length, bytes: record.bytes };
  }
}

/** The read side alone, for a process that reaches the rest of metadata over RPC. */
export function createManifestReader(storage: StorageDriver, redis: Redis, keys: RedisKeys): ManifestReader {
  const manifests = new ManifestRepository(
    storage,
    redis,
    keys,
    new DigestGuard(redis, keys),
    new CatalogRepository(redis, keys),
    new ReferrerRepository(redis, keys),
    new ImageIdRepository(redis, keys),
  );
  return new ManifestReader(manifests, new TagRepository(storage, redis, keys));
}
