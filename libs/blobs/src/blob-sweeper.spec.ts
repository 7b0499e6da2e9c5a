// GC's blob sweep against a real Redis and both storage drivers: per digest, index first and
// atomic against writers (skipped while one writes, when first seen, or when touched since the
// cutoff), then the bytes and link objects, then the lease is released.
import { randomBytes } from 'node:crypto';
import { digestOf, type Digest } from '@stevedore/oci';
import { describeEachDriver, redisNow } from '../test/drivers';
import { blobPaths } from './blob-layout';
import { BlobRepository } from './blob-repository';
import { BlobSweeper } from './blob-sweeper';
import { DigestGuard } from './digest-guard';
import { LinkRepository } from './link-repository';

describeEachDriver('BlobSweeper', (ctx) => {
  let guard: DigestGuard;
  let blobs: BlobRepository;
  let links: LinkRepository;
  let sweeper: BlobSweeper;
  beforeAll(() => {
    guard = new DigestGuard(ctx.redis, ctx.keys);
    blobs = new BlobRepository(ctx.storage, ctx.redis, ctx.keys, guard);
    links = new LinkRepository(ctx.storage, ctx.redis, ctx.keys);
    sweeper = new BlobSweeper(ctx.storage, ctx.redis, ctx.keys, guard, blobs);
  });

  /** A blob pushed into `names`: bytes, index, links, and the stamp a push leaves. */
  async function pushed(bytes: Buffer, ...names: string[]): Promise<Digest> {
    const d = digestOf(bytes);
    await guard.hold([d], async () => {
      await ctx.storage.putContent(blobPaths.blobData(d), bytes);
      await blobs.index({ digest: d, size: bytes.length });
      for (const n of names) await links.link(n, d);
    });
    return d;
  }
  const later = async () => (await redisNow(ctx.redis)) + 60_000;

  it('sweeps only what was last touched before the cutoff: index first, then storage', async () => {
    const keep = await pushed(randomBytes(2000), 'e/app');
    const drop = await pushed(randomBytes(3000), 'e/app');
    // Touched since the cutoff (just pushed): skipped.
    const early = await sweeper.sweep([{ digest: drop, unlinkFrom: ['e/app'], deleteData: true }], {
      olderThan: (await redisNow(ctx.redis)) - 60_000,
    });
    expect(early).toEqual({ deleted: [], unlinked: 0, skipped: [drop] });
    expect(await links.stat('e/app', drop)).toBeDefined();
    const r = await sweeper.sweep([{ digest: drop, unlinkFrom: ['e/app'], deleteData: true }], { olderThan: await later() });
    expect(r).toEqual({ deleted: [{ digest: drop, size: 3000 }], unlinked: 1, skipped: [] });
    expect(await blobs.exists(drop)).toBeUndefined();
    expect(await links.listLinks('e/app')).toEqual([keep]);
    expect(await ctx.storage.stat(blobPaths.blobData(drop))).toBeUndefined();
    expect(await ctx.storage.stat(blobPaths.layerLink('e/app', drop))).toBeUndefined();
    expect(await ctx.redis.exists(guard.sweepingKey(drop), guard.touchedKey(drop))).toBe(0);
    expect(await links.stat('e/app', keep)).toBeDefined();
  });

  it('leaves a digest alone while a writer holds it, and stamps one it sees for the first time', async () => {
    const busy = await pushed(randomBytes(100), 'w/app');
    await guard.begin([busy]);
    const r = await sweeper.sweep([{ digest: busy, unlinkFrom: ['w/app'], deleteData: true }], { olderThan: await later() });
    expect(r.skipped).toEqual([busy]);
    await guard.end([busy], false);
    expect(await blobs.exists(busy)).toBeDefined();

    // No stamp at all (indexed by a reindex, say): kept this time, and stamped so a later run decides.
    const unstamped = digestOf(randomBytes(50));
    await blobs.index({ digest: unstamped, size: 50 });
    expect((await sweeper.sweep([{ digest: unstamped, unlinkFrom: [], deleteData: true }], { olderThan: await later() })).skipped).toEqual([
      unstamped,
    ]);
    expect(await ctx.redis.get(guard.touchedKey(unstamped))).not.toBeNull();
  });

  it('unlinks from repositories without deleting the bytes when asked to', async () => {
    const d = await pushed(randomBytes(400), 'x/one', 'x/two');
    const r = await sweeper.sweep([{ digest: d, unlinkFrom: ['x/one'], deleteData: false }], { olderThan: await later() });
    expect(r).toEqual({ deleted: [], unlinked: 1, skipped: [] });
    expect(await links.stat('x/one', d)).toBeUndefined();
    expect(await links.stat('x/two', d)).toEqual({ digest: d, size: 400 });
    expect(await ctx.storage.stat(blobPaths.layerLink('x/one', d))).toBeUndefined();
    expect(await ctx.storage.stat(blobPaths.blobData(d))).toBeDefined();
    // The lease is gone, so a writer is not kept waiting.
    expect(await ctx.redis.exists(guard.sweepingKey(d))).toBe(0);
  });

  it('makes the blob repository forget cached bytes it deletes', async () => {
    const bytes = randomBytes(600);
    const d = await pushed(bytes, 'cache/app');
    expect((await blobs.open({ digest: d, size: 600 })).bytes!.equals(bytes)).toBe(true);
    await sweeper.sweep([{ digest: d, unlinkFrom: ['cache/app'], deleteData: true }], { olderThan: await later() });
    await expect(blobs.open({ digest: d, size: 600 })).rejects.toThrow();
  });
});
