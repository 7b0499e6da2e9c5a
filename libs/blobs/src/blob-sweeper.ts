// GC's sweep of blobs: per digest, one Lua script over the digest's keys (its blob record and
// DigestGuard keys, one hash slot on a Redis Cluster) checks it may go, atomic against DigestGuard's
// writers, takes the sweep lease and removes the blob record; then the digest leaves each
// repository's layers set (one command per repository: each its own slot); then the bytes and link
// objects go from storage; then the leases are released. The lease is what makes the steps safe to
// split: a push either sees it and waits until the release, or has stamped the digest and the
// script leaves it alone. A crash between the steps leaves links in Redis without a blob record, or
// link objects and bytes in storage without an index entry: readers miss them (stat needs both),
// read repair (statOrRepair, a writer: it waits for the lease) restores what storage still holds,
// and the next GC run sweeps the rest; the lease expires after SWEEP_LEASE_SECONDS.
import type Redis from 'ioredis';
import type { Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { blobKeys, blobPaths, type BlobKeys } from './blob-layout';
import type { BlobRepository } from './blob-repository';
import type { BlobSweepItem, BlobSweepResult } from './blob-service';
import { SWEEP_LEASE_SECONDS, luaMayGo, type DigestGuard } from './digest-guard';

// GC's sweep of one digest, atomic against DigestGuard's writers. KEYS: blob, touched, writing,
// sweeping (one slot). ARGV: cutoff ms, lease seconds, deleteData. Returns -1 busy, -2 first seen
// (stamped now), -3 touched since the cutoff, else the size swept (and the lease is taken).
const SWEEP = `${luaMayGo({ touched: 2, writing: 3, sweeping: 4 })}
local size = tonumber(redis.call('HGET', KEYS[1], 'size') or '0')
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
      items.map(async (it) => {
        const keys = [this.k.blob(it.digest), ...this.guard.mayGoKeys(it.digest)];
        const size = (await this.redis.eval(
          SWEEP,
          keys.length,
          ...keys,
          options.olderThan,
          SWEEP_LEASE_SECONDS,
          it.deleteData ? '1' : '0',
        )) as number;
        // Leased: the links, repository by repository (each its own slot on a cluster).
        if (size >= 0) await Promise.all(it.unlinkFrom.map((n) => this.redis.srem(this.k.layers(n), it.digest)));
        return size;
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
      // One DEL per lease: each digest's lease is in its own slot on a cluster.
      await Promise.all(leased.map((d) => this.redis.del(this.guard.sweepingKey(d))));
    }
    return result;
  }
}
