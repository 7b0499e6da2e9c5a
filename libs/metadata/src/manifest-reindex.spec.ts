// Reindex against a real Redis and both storage drivers: after FLUSHALL, manifests, referrers, the
// catalog, tag history (deleted tags included) and tags come back from storage's links; a revision
// whose bytes are gone or unreadable stays out, and so does a tag onto it; a second run over the
// live index changes nothing.
import { flushEverywhere } from '@stevedore/testing';
import { digestOf, parseManifest, type Digest } from '@stevedore/oci';
import { STORAGE_KINDS, image, useMetadataFixture, useRedisServer, type MetadataFixture } from '../test/metadata-fixture';
import { ManifestReindex } from './manifest-reindex';

jest.setTimeout(120_000);
const server = useRedisServer();
// S3 keeps modification times to the second; Redis' times are taken right after the link is written.
const RESOLUTION_MS = 1000;

async function put(f: MetadataFixture, name: string, bytes: Buffer): Promise<Digest> {
  const d = digestOf(bytes);
  await f.blobs.storeContent(d, bytes);
  await f.manifests.writeLink(name, d);
  await f.manifests.index(name, d, parseManifest(bytes), bytes);
  return d;
}

describe.each(STORAGE_KINDS)('ManifestReindex (%s)', (kind) => {
  const f = useMetadataFixture(server, kind, 'manifestreindex');
  let reindex: ManifestReindex;
  let m1: Digest, m2: Digest, sig: Digest, lost: Digest, junk: Digest;

  beforeAll(async () => {
    reindex = new ManifestReindex(f.storage, f.blobs, f.manifests, f.tags);
    const one = await image(f.blobs, 'a/app', 'one');
    m1 = await put(f, 'a/app', one);
    m2 = await put(f, 'a/app', await image(f.blobs, 'a/app', 'two'));
    sig = await put(f, 'a/app', await image(f.blobs, 'a/app', 'sig', { digest: m1, size: one.length }));
    await f.tags.set('a/app', 'v1', m1);
    await f.tags.set('a/app', 'v1', m2);
    await f.tags.set('a/app', 'gone', m1);
    await f.tags.remove('a/app', 'gone');
    // A revision link whose bytes never made it, and a tag onto it.
    lost = digestOf(Buffer.from('bytes that were never stored'));
    await f.manifests.writeLink('b/app', lost);
    await f.tags.set('b/app', 'dangling', lost);
    // Bytes that are no manifest.
    const bad = Buffer.from('{"schemaVersion": 2, "not": "a manifest"}');
    junk = digestOf(bad);
    await f.blobs.storeContent(junk, bad);
    await f.manifests.writeLink('c/app', junk);
  });

  it('rebuilds manifests, referrers, the catalog, history and tags after a flush, leaving out what it cannot serve', async () => {
    const historyBefore = await f.tags.history('a/app', 'v1');
    const taggingsBefore = await f.tags.taggings('a/app');
    await flushEverywhere(f.redis);
    expect(await f.manifests.isLinked('a/app', m1)).toBe(false);

    const report = await reindex.run();
    expect(report).toMatchObject({ repositories: 1, manifests: 3, tags: 1 });
    // Layer storage's index comes back first: the config blobs and the manifest bytes.
    expect(report.blobs).toBeGreaterThanOrEqual(7);

    for (const d of [m1, m2, sig]) expect(await f.manifests.isLinked('a/app', d)).toBe(true);
    expect((await f.referrers.list('a/app', m1)).map((r) => r.digest)).toEqual([sig]);
    expect((await f.catalog.page()).items).toEqual(['a/app']);
    expect(await f.tags.current('a/app', 'v1')).toBe(m2);
    expect(await f.tags.current('a/app', 'gone')).toBeUndefined();
    const history = await f.tags.history('a/app', 'v1');
    expect(history.map((h) => h.digest)).toEqual(historyBefore.map((h) => h.digest));
    history.forEach((h, i) => expect(Math.abs(h.taggedAt - historyBefore[i].taggedAt)).toBeLessThanOrEqual(RESOLUTION_MS));
    expect((await f.tags.history('a/app', 'gone')).map((h) => h.digest)).toEqual([m1]);
    const [{ taggedAt }] = (await f.tags.taggings('a/app')).get(m2)!;
    expect(Math.abs(taggedAt - taggingsBefore.get(m2)![0].taggedAt)).toBeLessThanOrEqual(RESOLUTION_MS);

    // Tags last and only onto indexed manifests; history as storage keeps it, even of a lost manifest.
    expect(await f.manifests.isLinked('b/app', lost)).toBe(false);
    expect(await f.tags.current('b/app', 'dangling')).toBeUndefined();
    expect((await f.tags.history('b/app', 'dangling')).map((h) => h.digest)).toEqual([lost]);
    expect(await f.manifests.isLinked('c/app', junk)).toBe(false);
    expect(await f.catalog.has('c/app')).toBe(false);
  });

  it('over a live index changes nothing, and never moves history back', async () => {
    await f.tags.set('a/app', 'v1', m1);
    const history = await f.tags.history('a/app', 'v1');
    const report = await reindex.run();
    expect(report).toMatchObject({ repositories: 1, manifests: 3, tags: 1 });
    expect(await f.tags.history('a/app', 'v1')).toEqual(history);
    expect(history.map((h) => h.digest)).toEqual([m2, m1]);
  });
});
