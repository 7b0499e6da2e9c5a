// The in-process metadata service (ManifestMetadata, as createManifestMetadata builds it) against a
// real Redis and both storage drivers (filesystem, and S3 on the shared Ceph RGW): puts by tag and by
// digest with their checks, tag moves and deletes, manifest deletes, referrers, tag and catalog
// paging, reindex after a flush, and GC's removal of untagged manifests and purge of records.
import { flushEverywhere } from '@stevedore/testing';
import { digestOf, type Digest } from '@stevedore/oci';
import { OCI_MANIFEST, STORAGE_KINDS, absent, code, image as imageOf, useMetadataFixture, useRedisServer } from '../test/metadata-fixture';
import { createManifestMetadata } from './manifest-metadata';
import { metadataPaths } from './metadata-layout';
import type { ManifestGcService, MetadataService } from './metadata-service';

jest.setTimeout(120_000);
const server = useRedisServer();

describe.each(STORAGE_KINDS)('ManifestMetadata (%s)', (kind) => {
  const f = useMetadataFixture(server, kind, 'manifestmetadata');
  let store: MetadataService & ManifestGcService;
  beforeAll(() => {
    store = createManifestMetadata(f.storage, f.redis, f.keys, f.blobs, f.blobs, { maxManifestBytes: 64 * 1024 });
  });
  const image = (name: string, extra: string, subject?: { digest: string; size: number }, artifactType?: string) =>
    imageOf(f.blobs, name, extra, subject, artifactType);

  it('puts by tag and by digest, checks digests and references, and gets either way', async () => {
    const bytes = await image('a/app', 'one');
    const d = digestOf(bytes);
    expect(await store.putManifest({ name: 'a/app', tag: 'v1' }, bytes, OCI_MANIFEST)).toMatchObject({ digest: d });
    expect((await store.getManifest({ name: 'a/app', tag: 'v1' })).digest).toBe(d);
    expect((await store.getManifest({ name: 'a/app', digest: d })).bytes.equals(bytes)).toBe(true);
    expect(await code(store.getManifest({ name: 'a/other', digest: d }))).toBe('MANIFEST_UNKNOWN');
    // By digest: the digest must be the bytes'.
    const other = await image('a/app', 'two');
    expect(await code(store.putManifest({ name: 'a/app', digest: d }, other, OCI_MANIFEST))).toBe('DIGEST_INVALID');
    expect((await store.putManifest({ name: 'a/app', digest: digestOf(other) }, other, OCI_MANIFEST)).digest).toBe(digestOf(other));
    // A manifest naming a blob the repository lacks is refused, and stored nowhere.
    const missing = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'e'.repeat(64)}`, size: 2 },
        layers: [],
      }),
    );
    expect(await code(store.putManifest({ name: 'a/app', tag: 'broken' }, missing, OCI_MANIFEST))).toBe('MANIFEST_BLOB_UNKNOWN');
    expect(await code(store.getManifest({ name: 'a/app', tag: 'broken' }))).toBe('MANIFEST_UNKNOWN');
    expect(await code(store.putManifest({ name: 'a/app', tag: 'big' }, Buffer.alloc(65 * 1024, 32), OCI_MANIFEST))).toBe(
      'MANIFEST_INVALID',
    );
  });

  it('moves and deletes tags; deleting a manifest removes its tags and referrer entry', async () => {
    const one = await image('b/app', 'one');
    const two = await image('b/app', 'two', { digest: digestOf(one), size: one.length });
    await store.putManifest({ name: 'b/app', tag: 'latest' }, one, OCI_MANIFEST);
    await store.putManifest({ name: 'b/app', tag: 'sig' }, two, OCI_MANIFEST);
    expect((await store.referrers('b/app', digestOf(one))).map((r) => r.digest)).toEqual([digestOf(two)]);
    await store.tagManifest('b/app', 'stable', digestOf(one));
    await store.tagManifest('b/app', 'latest', digestOf(two));
    expect(await store.tagsOf('b/app', digestOf(one))).toEqual(['stable']);
    expect((await store.listTags('b/app')).items).toEqual(['latest', 'sig', 'stable']);
    const page = await store.listTags('b/app', 2);
    expect(page).toEqual({ items: ['latest', 'sig'], next: 'sig' });
    expect((await store.listTags('b/app', 2, page.next)).items).toEqual(['stable']);
    await store.deleteTag('b/app', 'stable');
    expect(await code(store.getManifest({ name: 'b/app', tag: 'stable' }))).toBe('MANIFEST_UNKNOWN');
    expect((await store.getManifest({ name: 'b/app', digest: digestOf(one) })).digest).toBe(digestOf(one));
    await store.deleteManifest('b/app', digestOf(two));
    expect(await code(store.getManifest({ name: 'b/app', tag: 'latest' }))).toBe('MANIFEST_UNKNOWN');
    expect(await store.referrers('b/app', digestOf(one))).toEqual([]);
    expect(await code(store.tagManifest('b/app', 'again', digestOf(two)))).toBe('MANIFEST_UNKNOWN');
  });

  it('rebuilds manifests, tags and the catalog from storage after Redis is flushed', async () => {
    const bytes = await image('c/app', 'one');
    await store.putManifest({ name: 'c/app', tag: 'v1' }, bytes, OCI_MANIFEST);
    await flushEverywhere(f.redis);
    // Redis knows nothing now: listings are empty until reindex, but a pull is served from storage (read repair).
    expect((await store.catalog()).items).toEqual([]);
    expect((await store.getManifest({ name: 'c/app', tag: 'v1' })).digest).toBe(digestOf(bytes));
    const r = await store.reindex();
    expect(r.manifests).toBeGreaterThanOrEqual(1);
    expect((await store.getManifest({ name: 'c/app', tag: 'v1' })).digest).toBe(digestOf(bytes));
    expect((await store.catalog()).items).toContain('c/app');
  });

  it('removes untagged manifests only past the cutoff, never a tagged one', async () => {
    const tagged = await image('d/app', 'tagged');
    const loose = await image('d/app', 'loose');
    await store.putManifest({ name: 'd/app', tag: 'keep' }, tagged, OCI_MANIFEST);
    await store.putManifest({ name: 'd/app', digest: digestOf(loose) }, loose, OCI_MANIFEST);
    const candidates = [digestOf(tagged), digestOf(loose)] as Digest[];
    const now = await f.now();
    // First sight stamps them; nothing goes before the cutoff has passed since.
    expect(await store.deleteUntagged('d/app', candidates, { olderThan: now - 60_000 })).toEqual([]);
    expect(await store.deleteUntagged('d/app', candidates, { olderThan: now + 60_000 })).toEqual([digestOf(loose)]);
    expect(await code(store.getManifest({ name: 'd/app', digest: digestOf(loose) }))).toBe('MANIFEST_UNKNOWN');
    expect((await store.getManifest({ name: 'd/app', tag: 'keep' })).digest).toBe(digestOf(tagged));
    const records = await store.listManifests('d/app');
    expect(records.map((m) => m.digest)).toEqual([digestOf(tagged)]);
    expect(records[0].tags.map((t) => t.tag)).toEqual(['keep']);
  });

  it('tags only a manifest its repository holds, writing nothing otherwise', async () => {
    const bytes = await image('e/app', 'one');
    const d = (await store.putManifest({ name: 'e/app', digest: digestOf(bytes) }, bytes, OCI_MANIFEST)).digest;
    expect(await code(store.tagManifest('e/other', 'v1', d))).toBe('MANIFEST_UNKNOWN');
    expect(await code(store.tagManifest('e/app', 'v1', absent('f')))).toBe('MANIFEST_UNKNOWN');
    expect(await code(store.tagManifest('e/app', '-bad', d))).toBe('TAG_INVALID');
    expect(await f.storage.stat(metadataPaths.tagCurrent('e/other', 'v1'))).toBeUndefined();
    expect(await f.storage.stat(metadataPaths.tagIndexEntry('e/other', 'v1', d))).toBeUndefined();
    expect(await store.tagHistory('e/other', 'v1')).toEqual([]);
    expect(await code(store.listTags('e/other'))).toBe('NAME_UNKNOWN');
    await store.tagManifest('e/app', 'v1', d);
    expect(await store.tagsOf('e/app', d)).toEqual(['v1']);
    // A repository whose tags are all deleted is still known: an empty list, not NAME_UNKNOWN.
    await store.deleteTag('e/app', 'v1');
    expect(await store.listTags('e/app')).toEqual({ items: [] });
    expect(await code(store.deleteTag('e/app', 'v1'))).toBe('MANIFEST_UNKNOWN');
    expect(await code(store.deleteManifest('e/other', d))).toBe('MANIFEST_UNKNOWN');
    expect(await code(store.getManifest({ name: 'e/app', tag: 'sha256:nothex' }))).toBe('DIGEST_INVALID');
  });

  it('filters referrers by artifact type', async () => {
    const subject = await image('f/app', 'subject');
    const s = digestOf(subject);
    await store.putManifest({ name: 'f/app', tag: 'v1' }, subject, OCI_MANIFEST);
    const sig = await image('f/app', 'sig', { digest: s, size: subject.length }, 'application/vnd.example.sig');
    const sbom = await image('f/app', 'sbom', { digest: s, size: subject.length }, 'application/spdx+json');
    const put = await store.putManifest({ name: 'f/app', digest: digestOf(sig) }, sig, OCI_MANIFEST);
    expect(put.subject).toBe(s);
    await store.putManifest({ name: 'f/app', digest: digestOf(sbom) }, sbom, OCI_MANIFEST);
    expect((await store.referrers('f/app', s)).map((r) => r.digest)).toEqual([digestOf(sig), digestOf(sbom)].sort());
    expect(await store.referrers('f/app', s, 'application/spdx+json')).toEqual([
      { mediaType: OCI_MANIFEST, digest: digestOf(sbom), size: sbom.length, artifactType: 'application/spdx+json' },
    ]);
    expect(await store.referrers('f/app', s, 'application/none')).toEqual([]);
    // Referrers are per repository.
    expect(await store.referrers('f/other', s)).toEqual([]);
  });

  it('pages the catalog with n and last, every repository once', async () => {
    const all = (await store.catalog()).items;
    expect(all).toEqual(expect.arrayContaining(['a/app', 'b/app', 'd/app', 'e/app', 'f/app']));
    expect([...all].sort()).toEqual(all);
    const walked: string[] = [];
    let last: string | undefined;
    for (;;) {
      const page = await store.catalog(2, last);
      expect(page.items.length).toBeLessThanOrEqual(2);
      walked.push(...page.items);
      if (!page.next) break;
      last = page.next;
    }
    expect(walked).toEqual(all);
    expect(await store.catalog(0)).toEqual({ items: [] });
  });

  it('purges a manifest no repository holds, record and bytes, after a stamp and past the cutoff', async () => {
    const bytes = await image('g/app', 'purged');
    const d = digestOf(bytes);
    await store.putManifest({ name: 'g/app', tag: 'v1' }, bytes, OCI_MANIFEST);
    const [record] = await store.listManifests('g/app');
    expect(record).toMatchObject({ digest: d, size: bytes.length, tags: [{ tag: 'v1' }] });
    expect(record.touched).toBeGreaterThan(0); // the push stamped it
    await store.deleteManifest('g/app', d);
    expect(await store.listManifests('g/app')).toEqual([]);
    const listed: Digest[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listManifestData(cursor);
      listed.push(...page.items.map((i) => i.digest));
      cursor = page.cursor;
    } while (cursor);
    expect(listed).toContain(d);
    const now = await f.now();
    expect(await store.purgeManifestData([d], { olderThan: now - 60_000 })).toEqual([]);
    expect(await store.purgeManifestData([d], { olderThan: now + 60_000 })).toEqual([{ digest: d, size: bytes.length }]);
    // Layer storage dropped the bytes too (they were no indexed blob).
    expect(await f.blobs.readContent(d)).toBeUndefined();
    expect(await code(store.putManifest({ name: 'g/app', digest: d }, bytes, OCI_MANIFEST))).toBeUndefined();
    expect((await store.getManifest({ name: 'g/app', digest: d })).bytes.equals(bytes)).toBe(true);
  });
});
