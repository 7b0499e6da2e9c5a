// Layer storage's read side for a process that does not host it (a split gateway): whether a
// repository holds a blob, and whether a blob exists, asked of the Redis index layer storage owns
// (read, never written here), instead of an RPC round trip per HEAD. Bytes still come from the
// blob service.
import type Redis from 'ioredis';
import type { Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { BlobRepository } from './blob-repository';
import type { BlobInfo, BlobService } from './blob-service';
import { DigestGuard } from './digest-guard';
import { LinkRepository } from './link-repository';

export type BlobReader = Pick<BlobService, 'stat' | 'exists'>;

export function createBlobReader(storage: StorageDriver, redis: Redis, keys: RedisKeys): BlobReader {
  const links = new LinkRepository(storage, redis, keys);
  const blobs = new BlobRepository(storage, redis, keys, new DigestGuard(redis, keys));
  return {
    stat: (name: string, digest: Digest): Promise<BlobInfo | undefined> => links.stat(name, digest),
    exists: (digest: Digest): Promise<BlobInfo | undefined> => blobs.exists(digest),
  };
}
