// The blob repository against a real Redis and both storage drivers: the index, placing bytes,
// reads (whole, ranges, the small-blob cache, presigned redirects), manifest content, GC's listing
// and dropping of content, and rebuilding the index from storage.
import { flushEverywhere } from '@stevedore/testing';
import { randomBytes } from 'node:crypto';
import { digestOf, type Digest } from '@stevedore/oci';
import { code, describeEachDriver, paths, read, redisNow } from '../test/drivers';
import { blobPaths } from './blob-layout';
import { BlobRepository } from './blob-repository';
import { DigestGuard } from './digest-guard';

describeEachDriver('BlobRepository', (ctx) => {
  let guard: DigestGuard;
  let blobs: BlobRepository;
  beforeAll(() => {
    guard = new DigestGuard(ctx.redis, ctx.keys);
    blobs = new BlobRepository(ctx.storage, ctx.redis, ctx.keys, guard, { smallBlobMaxBytes: 1000, smallBlobCacheBytes: 10_000 });
  });

  /** Bytes placed and indexed, as the service does once they are verified. */
  async function stored(bytes: Buffer): Promise<{ digest: Digest; size: number }> {
    const info = { digest: digestOf(bytes), size: bytes.length };
    await ctx.storage.putContent(`staging/${info.digest}`, bytes);
    await blobs.place(info.digest, [`staging/${info.digest}`]);
    await blobs.index(info);
    return info;
  }

  it('knows a blob only once it is indexed', async () => {
    const bytes = randomBytes(100);
    const d = digestOf(bytes);
    await ctx.storage.putContent(blobPaths.blobData(d), bytes);
    expect(await blobs.exists(d)).toBeUndefined();
    await blobs.index({ digest: d, size: bytes.length });
    expect(await blobs.exists(d)).toEqual({ digest: d, size: bytes.length });
  });

  it('places one source by moving it, several by concatenating them, and none as an empty blob', async () => {
    const parts = [randomBytes(700), randomBytes(900), randomBytes(5)];
    const whole = Buffer.concat(parts);
    const sources = parts.map((_, i) => `staging/concat/${i}`);
    for (const [i, p] of parts.entries()) await ctx.storage.putContent(sources[i], p);
    await blobs.place(digestOf(whole), sources);
    expect((await blobs.readContent(digestOf(whole)))!.equals(whole)).toBe(true);

    const one = randomBytes(300);
    await ctx.storage.putContent('staging/one', one);
    await blobs.place(digestOf(one), ['staging/one']);
    expect((await blobs.readContent(digestOf(one)))!.equals(one)).toBe(true);
    expect(await ctx.storage.stat('staging/one')).toBeUndefined();

    const empty = digestOf(Buffer.alloc(0));
    await blobs.place(empty, []);
    expect((await blobs.readContent(empty))!.length).toBe(0);
  });

  it('serves a blob whole and by range, and refuses a range outside it', async () => {
    const big = await stored(randomBytes(5000));
    const bytes = (await blobs.readContent(big.digest))!;
    const whole = await blobs.open(big);
    expect(whole.bytes).toBeUndefined();
    expect((await read(whole.stream)).equals(bytes)).toBe(true);
    const part = await blobs.open(big, { range: { start: 4990 } });
    expect(part.range).toEqual({ start: 4990, end: 4999 });
    expect((await read(part.stream)).equals(bytes.subarray(4990))).toBe(true);
    // An end past the blob is clipped to it.
    const clipped = await blobs.open(big, { range: { start: 0, end: 99_999 } });
    expect(clipped.range).toEqual({ start: 0, end: 4999 });
    expect((await read(clipped.stream)).length).toBe(5000);
    expect(await code(blobs.open(big, { range: { start: 5000 } }))).toBe('RANGE_INVALID');
    expect(await code(blobs.open(big, { range: { start: 10, end: 9 } }))).toBe('RANGE_INVALID');
  });

  it('keeps small blobs in memory, ranges included, until GC evicts them', async () => {
    const bytes = randomBytes(800);
    const small = await stored(bytes);
    expect((await blobs.open(small)).bytes!.equals(bytes)).toBe(true);
    // Served from memory: storage is not read again.
    await ctx.storage.delete(blobPaths.blobData(small.digest));
    const cached = await blobs.open(small);
    expect(cached.bytes!.equals(bytes)).toBe(true);
    expect((await read(cached.stream)).equals(bytes)).toBe(true);
    const part = await blobs.open(small, { range: { start: 1, end: 2 } });
    expect(part.bytes!.equals(bytes.subarray(1, 3))).toBe(true);
    blobs.evict(small.digest);
    await expect(blobs.open(small)).rejects.toThrow();
  });

  it('redirects to a presigned URL when the driver offers one and no range is asked', async () => {
    const info = await stored(randomBytes(3000));
    const c = await blobs.open(info, { allowRedirect: true });
    if (ctx.kind === 's3') {
      expect(c.stream).toBeUndefined();
      const res = await fetch(c.redirectUrl!);
      expect(Buffer.from(await res.arrayBuffer()).equals((await blobs.readContent(info.digest))!)).toBe(true);
    } else {
      expect(c.redirectUrl).toBeUndefined();
      expect((await read(c.stream)).length).toBe(3000);
    }
    const ranged = await blobs.open(info, { allowRedirect: true, range: { start: 0, end: 0 } });
    expect(ranged.redirectUrl).toBeUndefined();
    expect((await read(ranged.stream)).length).toBe(1);
  });

  it('keeps manifest content where blobs live without indexing it, and never overwrites an indexed blob', async () => {
    const manifest = Buffer.from(`{"schemaVersion":2,"n":"${randomBytes(8).toString('hex')}"}`);
    const d = digestOf(manifest);
    expect(await blobs.readContent(d)).toBeUndefined();
    await blobs.storeContent(d, manifest);
    expect((await blobs.readContent(d))!.equals(manifest)).toBe(true);
    expect(await blobs.exists(d)).toBeUndefined();
    expect(await ctx.storage.stat(blobPaths.blobData(d))).toBeDefined();

    const blob = await stored(randomBytes(50));
    await blobs.storeContent(blob.digest, Buffer.from('not these bytes'));
    expect((await blobs.readContent(blob.digest))!.length).toBe(50);
  });

  it('drops content only when no writer holds it, its stamp is older than the cutoff, and it is no indexed blob', async () => {
    const content = Buffer.from(randomBytes(40).toString('hex'));
    const d = digestOf(content);
    await blobs.storeContent(d, content);
    // First seen: stamped, kept.
    expect(await blobs.dropContent([d], { olderThan: (await redisNow(ctx.redis)) + 60_000 })).toEqual([]);
    expect(await ctx.redis.get(guard.touchedKey(d))).not.toBeNull();
    // Touched since the cutoff: kept.
    expect(await blobs.dropContent([d], { olderThan: 0 })).toEqual([]);
    // A writer in flight: kept.
    await guard.begin([d]);
    expect(await blobs.dropContent([d], { olderThan: (await redisNow(ctx.redis)) + 60_000 })).toEqual([]);
    await guard.end([d], false);
    expect(await blobs.dropContent([d], { olderThan: (await redisNow(ctx.redis)) + 60_000 })).toEqual([d]);
    expect(await blobs.readContent(d)).toBeUndefined();
    expect(await ctx.redis.exists(guard.sweepingKey(d), guard.touchedKey(d))).toBe(0);

    // An indexed blob's bytes belong to its sweep.
    const blob = await stored(randomBytes(60));
    await guard.touch([blob.digest]);
    expect(await blobs.dropContent([blob.digest], { olderThan: (await redisNow(ctx.redis)) + 60_000 })).toEqual([]);
    expect(await blobs.readContent(blob.digest)).toBeDefined();
  });

  it('lists every indexed blob page by page, with the touched stamp once there is one', async () => {
    const a = await stored(randomBytes(10));
    const b = await stored(randomBytes(11));
    await guard.touch([a.digest]);
    const seen = new Map<string, { size: number; touched?: number }>();
    let cursor: string | undefined;
    do {
      const page = await blobs.listBlobs(cursor);
      for (const it of page.items) seen.set(it.digest, it);
      cursor = page.cursor;
    } while (cursor);
    expect(seen.get(a.digest)).toEqual({ digest: a.digest, size: 10, touched: expect.any(Number) });
    expect(seen.get(b.digest)).toEqual({ digest: b.digest, size: 11 });
  });

  it('rebuilds the index from the bytes storage holds after Redis is flushed', async () => {
    const info = await stored(randomBytes(123));
    await ctx.storage.putContent('blobs/sha256/zz/not-a-blob/data', 'x');
    await flushEverywhere(ctx.redis);
    expect(await blobs.exists(info.digest)).toBeUndefined();
    const all = (await paths(ctx.storage, blobPaths.blobsRoot)).filter((p) => blobPaths.parseBlobData(p));
    expect(await blobs.reindex()).toBe(all.length);
    expect(await blobs.exists(info.digest)).toEqual(info);
  });
});
