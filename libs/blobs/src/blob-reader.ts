// Layer storage's read side for a process that does not host it (a split gateway): whether a
// repository holds a blob and whether a blob exists, asked of the Redis index layer storage owns,
// and the bytes of a pull read from storage (with the same small-blob cache and presigned
// redirects), instead of an RPC round trip per HEAD and an extra hop for every byte pulled. It
// reads layer storage's keyspace and writes it only to repair a link Redis lost (the gateway's
// uploads run a LayerStorage of their own: blobs.module.ts).
import type Redis from 'ioredis';
import { RegistryError, type Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { BlobRepository } from './blob-repository';
import type { BlobContent, BlobInfo, BlobService, OpenOptions } from './blob-service';
import { DigestGuard } from './digest-guard';
import { LinkRepository } from './link-repository';

export type BlobReader = Pick<BlobService, 'stat' | 'exists' | 'open' | 'readContent'>;

export function createBlobReader(storage: StorageDriver, redis: Redis, keys: RedisKeys, onRepair?: () => void): BlobReader {
  const links = new LinkRepository(storage, redis, keys);
  const guard = new DigestGuard(redis, keys);
  const blobs = new BlobRepository(storage, redis, keys, guard);
  return {
    stat: (name: string, digest: Digest): Promise<BlobInfo | undefined> => links.stat(name, digest),
    exists: (digest: Digest): Promise<BlobInfo | undefined> => blobs.exists(digest),
    readContent: (digest: Digest): Promise<Buffer | undefined> => blobs.readContent(digest),
    open: async (name: string, digest: Digest, options?: OpenOptions): Promise<BlobContent> => {
      // A pull: what Redis lost but storage holds is written back (LinkRepository.statOrRepair).
      const info = await links.statOrRepair(name, digest, guard, onRepair);
      if (!info) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
      return blobs.open(info, options);
    },
  };
}
