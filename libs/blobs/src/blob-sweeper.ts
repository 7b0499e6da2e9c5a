// GC's sweep of blobs: per digest, one Lua script removes the blob index entry and the repository
// links from Redis, atomic against DigestGuard's writers and under a sweep lease; then the bytes and
// link objects go from storage; then the leases are released. It spans the blob index, the link
// sets and the leases because the atomicity is the point: a push either sees the lease and waits,
// or has stamped the digest and the script leaves it alone.
import type Redis from 'ioredis';
import type { Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { blobKeys, blobPaths, type BlobKeys } from './blob-layout';
import type { BlobRepository } from './blob-repository';
import type { BlobSweepItem, BlobSweepResult } from './blob-service';
import { SWEEP_LEASE_SECONDS, luaMayGo, type DigestGuard } from './digest-guard';

// GC's sweep of one digest, atomic against DigestGuard's writers. KEYS: blob, touched, writing,
// sweeping, then the layer sets to unlink from. ARGV: cutoff ms, lease seconds, deleteData, digest.
// Returns -1 busy, -2 first seen (stamped now), -3 touched since the cutoff, else the size swept.
const SWEEP = `${luaMayGo({ touched: 2, writing: 3, sweeping: 4 })}
local size = tonumber(redis.call('HGET', KEYS[1], 'size') or '0')
for i = 5, #KEYS do redis.call('SREM', KEYS[i], ARGV[4]) end
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('DEL', KEYS[2])
end
redis.call('SET', KEYS[4], '1', 'EX', ARGV[2])
return size`;

export class BlobSweeper {
  private readonly k: BlobKeys;

  constructor(
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    keys: RedisKeys,
    private readonly guard: DigestGuard,
    /** Whose cache must forget deleted bytes. */
    private readonly blobs: BlobRepository,
  ) {
    this.k = blobKeys(keys);
  }

  async sweep(items: BlobSweepItem[], options: { olderThan: number }): Promise<BlobSweepResult> {
    const result: BlobSweepResult = { deleted: [], unlinked: 0, skipped: [] };
    const paths: string[] = [];
    const leased: Digest[] = [];
    // 1. Index first, digest by digest, each atomic against writers: readers miss before bytes go.
    const outcomes = await Promise.all(
      items.map((it) => {
        const keys = [this.k.blob(it.digest), ...this.guard.mayGoKeys(it.digest), ...it.unlinkFrom.map((n) => this.k.layers(n))];
        return this.redis.eval(
          SWEEP,
          keys.length,
          ...keys,
          options.olderThan,
          SWEEP_LEASE_SECONDS,
          it.deleteData ? '1' : '0',
          it.digest,
        ) as Promise<number>;
      }),
    );
    items.forEach((it, i) => {
      const size = outcomes[i];
      if (size < 0) {
        result.skipped.push(it.digest);
        return;
      }
      leased.push(it.digest);
      for (const n of it.unlinkFrom) paths.push(blobPaths.layerLink(n, it.digest));
      result.unlinked += it.unlinkFrom.length;
      if (it.deleteData) {
        paths.push(blobPaths.blobData(it.digest));
        result.deleted.push({ digest: it.digest, size });
        this.blobs.evict(it.digest);
      }
    });
    // 2. Storage, in as few calls as the driver allows; 3. release the leases writers wait on.
    try {
      if (paths.length) await this.storage.deleteMany(paths);
    } finally {
      if (leased.length) await this.redis.del(...leased.map((d) => this.guard.sweepingKey(d)));
    }
    return result;
  }
}
