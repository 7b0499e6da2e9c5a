// Manifests against a real Redis and both storage drivers: the revision link and the one-MULTI
// index (record, revision, catalog, referrer entry), reads through the cache, removal from one
// repository, GC's records, and its two scripts (untagged removal, record purge) with their stamps,
// cutoffs and writers.
import { digestOf, parseManifest, type Digest } from '@stevedore/oci';
import { STORAGE_KINDS, code, image, useMetadataFixture, useRedisServer, type MetadataFixture } from '../test/metadata-fixture';
import { metadataKeys, metadataPaths } from './metadata-layout';

jest.setTimeout(120_000);
const server = useRedisServer();

/** Store and index `bytes` into `name` as a push does (bytes, link, index). */
async function put(f: MetadataFixture, name: string, bytes: Buffer): Promise<Digest> {
  const d = digestOf(bytes);
  await f.blobs.storeContent(d, bytes);
  await f.manifests.writeLink(name, d);
  await f.manifests.index(name, d, parseManifest(bytes), bytes);
  return d;
}

describe.each(STORAGE_KINDS)('ManifestRepository (%s)', (kind) => {
  const f = useMetadataFixture(server, kind, 'manifestrepository');

  it('links and indexes a manifest: record, revision, catalog and referrer entry', async () => {
    const base = await image(f.blobs, 'a/app', 'base');
    const d = await put(f, 'a/app', base);
    const sig = await image(f.blobs, 'a/app', 'sig', { digest: d, size: base.length });
    const s = await put(f, 'a/app', sig);
    expect((await f.storage.getContent(metadataPaths.revisionLink('a/app', d))).toString()).toBe(d);
    expect(await f.manifests.isLinked('a/app', d)).toBe(true);
    expect(await f.manifests.isLinked('b/app', d)).toBe(false);
    expect(await f.manifests.resolve('a/app', d)).toBe(d);
    expect(await code(f.manifests.resolve('b/app', d))).toBe('MANIFEST_UNKNOWN');
    const read = await f.manifests.read(d);
    expect(read?.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(read?.bytes.equals(base)).toBe(true);
    expect(await f.manifests.read(digestOf(Buffer.from('never stored')))).toBeUndefined();
    expect(await f.catalog.has('a/app')).toBe(true);
    expect(await f.referrers.list('a/app', d)).toEqual([
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: s,
        size: sig.length,
        artifactType: 'application/vnd.example+json',
      },
    ]);
  });

  it('serves a read from the cache once read (the bytes of a digest never change)', async () => {
    const d = await put(f, 'c/app', await image(f.blobs, 'c/app', 'cached'));
    const first = await f.manifests.read(d);
    await f.redis.del(metadataKeys(f.keys).manifest(d));
    expect((await f.manifests.read(d))?.bytes.equals(first!.bytes)).toBe(true);
  });

  it('removes a manifest from one repository: revision, referrer entry and link; the global record stays', async () => {
    const base = await image(f.blobs, 'd/app', 'base');
    const d = await put(f, 'd/app', base);
    const sig = await image(f.blobs, 'd/app', 'sig', { digest: d, size: base.length });
    const s = await put(f, 'd/app', sig);
    await put(f, 'd/other', sig);
    await f.manifests.remove('d/app', s);
    expect(await f.manifests.isLinked('d/app', s)).toBe(false);
    expect(await f.referrers.list('d/app', d)).toEqual([]);
    expect(await f.storage.stat(metadataPaths.revisionLink('d/app', s))).toBeUndefined();
    expect(await f.manifests.isLinked('d/other', s)).toBe(true);
    expect((await f.referrers.list('d/other', d)).map((r) => r.digest)).toEqual([s]);
    expect(await f.manifests.read(s)).toBeDefined();
  });

  it('gives GC each manifest of a repository with its references, subject and touch stamp', async () => {
    const base = await image(f.blobs, 'e/app', 'base');
    const d = await put(f, 'e/app', base);
    const s = await put(f, 'e/app', await image(f.blobs, 'e/app', 'sig', { digest: d, size: base.length }));
    await f.guard.touch([d]);
    const records = (await f.manifests.records('e/app')).sort((x, y) => (x.digest === d ? -1 : y.digest === d ? 1 : 0));
    expect(records.map((r) => r.digest)).toEqual([d, s]);
    expect(records[0].references).toEqual(parseManifest(base).references.map((r) => r.digest));
    expect(records[0].subject).toBeUndefined();
    expect(records[0].touched).toBeGreaterThan(0);
    expect(records[0].tags).toEqual([]);
    expect(records[1].subject).toBe(d);
    expect(records[1].touched).toBeUndefined();
    expect(await f.manifests.records('e/none')).toEqual([]);
  });

  it('removes untagged manifests only past the cutoff after a first stamp, never tagged or written ones', async () => {
    const base = await image(f.blobs, 'g/app', 'tagged');
    const tagged = await put(f, 'g/app', base);
    const loose = await put(f, 'g/app', await image(f.blobs, 'g/app', 'loose'));
    const sig = await put(f, 'g/app', await image(f.blobs, 'g/app', 'sig', { digest: tagged, size: base.length }));
    const busy = await put(f, 'g/app', await image(f.blobs, 'g/app', 'busy'));
    await f.tags.set('g/app', 'keep', tagged);
    const candidates = [tagged, loose, sig, busy];
    const now = await f.now();
    expect(await f.manifests.removeUntagged('g/app', candidates, now + 60_000)).toEqual([]);
    await f.guard.begin([busy]);
    try {
      expect(await f.manifests.removeUntagged('g/app', candidates, now - 60_000)).toEqual([]);
      expect((await f.manifests.removeUntagged('g/app', candidates, now + 60_000)).sort()).toEqual([loose, sig].sort());
    } finally {
      await f.guard.end([busy], false);
    }
    expect(await f.manifests.isLinked('g/app', loose)).toBe(false);
    expect(await f.storage.stat(metadataPaths.revisionLink('g/app', loose))).toBeUndefined();
    expect(await f.storage.stat(metadataPaths.revisionLink('g/app', sig))).toBeUndefined();
    expect(await f.referrers.list('g/app', tagged)).toEqual([]);
    expect(await f.manifests.isLinked('g/app', tagged)).toBe(true);
    expect(await f.manifests.isLinked('g/app', busy)).toBe(true);
    expect(await f.manifests.removeUntagged('g/app', [], now + 60_000)).toEqual([]);
  });

  it('lists every record by pages and purges one only after a stamp, past the cutoff, with no writer', async () => {
    const bytes = await image(f.blobs, 'h/app', 'purged');
    const d = await put(f, 'h/app', bytes);
    const kept = await put(f, 'h/app', await image(f.blobs, 'h/app', 'kept'));
    await f.manifests.remove('h/app', d);
    await f.manifests.remove('h/app', kept);
    const seen = new Map<string, number>();
    let cursor: string | undefined = '0';
    do {
      const page: Awaited<ReturnType<typeof f.manifests.listData>> = await f.manifests.listData(cursor);
      for (const r of page.items) seen.set(r.digest, r.size);
      cursor = page.cursor;
    } while (cursor);
    expect(seen.get(d)).toBe(bytes.length);
    await f.manifests.read(d); // cached: the purge must drop it from the cache too
    const now = await f.now();
    expect(await f.manifests.purgeData([d, kept], now + 60_000)).toEqual([]); // first seen: stamped
    expect(await f.manifests.purgeData([d, kept], now - 60_000)).toEqual([]); // touched since the cutoff
    await f.guard.begin([kept]);
    try {
      expect(await f.manifests.purgeData([d, kept], now + 60_000)).toEqual([{ digest: d, size: bytes.length }]);
    } finally {
      await f.guard.end([kept], false);
    }
    expect(await f.manifests.read(d)).toBeUndefined();
    expect(await f.manifests.read(kept)).toBeDefined();
    // The bytes are layer storage's: the repository leaves them for dropContent.
    expect(await f.blobs.readContent(d)).toBeDefined();
  });
});
