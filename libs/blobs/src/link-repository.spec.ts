// The link repository against a real Redis and both storage drivers: a link is an object in
// storage and a member of the repository's layer set, a repository sees a blob only when both the
// link and the blob index say so, and reindex rebuilds the sets from the objects.
import { flushEverywhere } from '@stevedore/testing';
import { randomBytes } from 'node:crypto';
import { digestOf, type Digest } from '@stevedore/oci';
import { code, describeEachDriver, paths } from '../test/drivers';
import { blobPaths } from './blob-layout';
import { BlobRepository } from './blob-repository';
import { DigestGuard } from './digest-guard';
import { LinkRepository } from './link-repository';

describeEachDriver('LinkRepository', (ctx) => {
  let links: LinkRepository;
  let blobs: BlobRepository;
  beforeAll(() => {
    links = new LinkRepository(ctx.storage, ctx.redis, ctx.keys);
    blobs = new BlobRepository(ctx.storage, ctx.redis, ctx.keys, new DigestGuard(ctx.redis, ctx.keys));
  });
  const fresh = () => digestOf(randomBytes(32));

  it('writes the link object and the set member, and shows the blob only when it is also indexed', async () => {
    const d = fresh();
    await links.link('l/app', d);
    expect((await ctx.storage.getContent(blobPaths.layerLink('l/app', d))).toString()).toBe(d);
    expect(await links.listLinks('l/app')).toEqual([d]);
    // Linked but not indexed (its bytes are not durable yet, or GC took them): not visible.
    expect(await links.stat('l/app', d)).toBeUndefined();
    await blobs.index({ digest: d, size: 7 });
    expect(await links.stat('l/app', d)).toEqual({ digest: d, size: 7 });
    // Indexed but linked elsewhere only: not visible here.
    expect(await links.stat('l/other', d)).toBeUndefined();
  });

  it('unlinks the set member and the object, and refuses a blob that is not linked', async () => {
    const d = fresh();
    await blobs.index({ digest: d, size: 1 });
    await links.link('u/app', d);
    await links.unlink('u/app', d);
    expect(await links.stat('u/app', d)).toBeUndefined();
    expect(await ctx.storage.stat(blobPaths.layerLink('u/app', d))).toBeUndefined();
    expect(await code(links.unlink('u/app', d))).toBe('BLOB_UNKNOWN');
    // The blob itself stays for GC.
    expect(await blobs.exists(d)).toEqual({ digest: d, size: 1 });
  });

  it('rebuilds the layer sets from the link objects, keeping only links whose blob exists', async () => {
    const kept = fresh();
    const gone = fresh();
    await links.link('r/app', kept);
    await links.link('r/app', gone);
    await links.link('r/nested/app', kept);
    await flushEverywhere(ctx.redis);
    expect(await links.listLinks('r/app')).toEqual([]);
    const linkObjects = (await paths(ctx.storage, blobPaths.repositoriesRoot)).filter((p) => blobPaths.parseLayerLink(p));
    const exists = new Set<Digest>([kept]);
    const relinked = await links.reindex(async (d) => exists.has(d));
    expect(relinked).toBe(linkObjects.filter((p) => blobPaths.parseLayerLink(p)!.digest === kept).length);
    expect(await links.listLinks('r/app')).toEqual([kept]);
    expect(await links.listLinks('r/nested/app')).toEqual([kept]);
  });
});
