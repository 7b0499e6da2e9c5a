// Image IDs against a real Redis: what a prefix takes (property), prefix lookup against a model of
// the sorted set (property), the holders a manifest index writes in every repository, that indexes
// and artifacts are no images, that removal and GC's untagged sweep drop holders and an ID with its
// last holder, and that reindex rebuilds the keys after they are flushed.
import { delEach, keysEverywhere } from '@stevedore/testing';
import fc from 'fast-check';
import { digestOf, parseManifest, type Digest } from '@stevedore/oci';
import { OCI_MANIFEST, image, useMetadataFixture, useRedisServer, type MetadataFixture } from '../test/metadata-fixture';
import { ImageIdRepository, imageIdOf, imageIdPrefix } from './image-id-repository';
import { ManifestReindex } from './manifest-reindex';
import { metadataKeys } from './metadata-layout';

jest.setTimeout(120_000);
const server = useRedisServer();

async function put(f: MetadataFixture, name: string, bytes: Buffer): Promise<Digest> {
  const d = digestOf(bytes);
  await f.blobs.storeContent(d, bytes);
  await f.manifests.writeLink(name, d);
  await f.manifests.index(name, d, parseManifest(bytes), bytes);
  return d;
}

/** The same image (config) as `bytes` under a manifest of another digest (an annotation differs). */
function sameImageOtherManifest(bytes: Buffer, note: string): Buffer {
  const m = JSON.parse(bytes.toString()) as Record<string, unknown>;
  return Buffer.from(JSON.stringify({ ...m, annotations: { note } }));
}

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);

describe('imageIdPrefix', () => {
  it('takes 4 to 64 lowercase hex digits, with or without sha256:, and nothing else', () => {
    fc.assert(
      fc.property(hex64, fc.integer({ min: 1, max: 64 }), fc.boolean(), (hex, len, prefixed) => {
        const input = (prefixed ? 'sha256:' : '') + hex.slice(0, len);
        expect(imageIdPrefix(input)).toBe(len >= 4 ? `sha256:${hex.slice(0, len)}` : undefined);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const out = imageIdPrefix(s);
        if (out !== undefined) expect(out).toMatch(/^sha256:[0-9a-f]{4,64}$/);
        if (!/^(sha256:)?[0-9a-f]{4,64}$/.test(s)) expect(out).toBeUndefined();
      }),
    );
    for (const bad of ['ABCD', 'sha256:', 'sha512:abcd', `${'a'.repeat(65)}`, 'abc', 'busybox', 'abcd:1', ' abcd'])
      expect(imageIdPrefix(bad)).toBeUndefined();
  });
});

describe('ImageIdRepository', () => {
  const f = useMetadataFixture(server, 'filesystem', 'imageids');

  it('finds exactly the IDs a prefix starts, in order, paged with after (a model of the set)', async () => {
    const repo = new ImageIdRepository(f.redis, f.keys);
    const ids = fc.uniqueArray(hex64, { minLength: 1, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(ids, fc.nat(), fc.integer({ min: 4, max: 64 }), fc.integer({ min: 1, max: 7 }), async (hexes, pick, len, n) => {
        await f.redis.del(metadataKeys(f.keys).imageIds());
        const all = hexes.map((h) => `sha256:${h}` as Digest);
        const m = f.redis.multi();
        all.forEach((id, i) => repo.queueAdd(m, 'model/app', `sha256:${String(i).padStart(64, '0')}` as Digest, id));
        await m.exec();
        // A prefix of a stored ID, or of one that is not stored.
        const prefix = imageIdPrefix((pick % 2 ? hexes[pick % hexes.length] : 'f0f0'.repeat(16)).slice(0, len))!;
        const want = all.filter((id) => id.startsWith(prefix)).sort();
        const got: Digest[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await repo.find(prefix, n, after);
          expect(page.length).toBeLessThanOrEqual(n);
          got.push(...page);
          if (page.length < n) break;
          after = page[page.length - 1];
        }
        expect(got).toEqual(want);
      }),
      // A full ID as the prefix, a page of one: the page after it must not start at it again.
      { numRuns: 30, examples: [[['ab'.repeat(32), 'ab'.repeat(31) + 'ac'], 1, 64, 1]] },
    );
  });

  it('indexes an image in every repository holding it, and no index or artifact', async () => {
    const a = await image(f.blobs, 'a/app', 'shared');
    const id = imageIdOf(parseManifest(a))!;
    expect(id).toMatch(/^sha256:/);
    const d = await put(f, 'a/app', a);
    // The same manifest pushed to another repository, and the same image under another manifest.
    const b = await put(f, 'b/app', a);
    const other = await put(f, 'b/app', sameImageOtherManifest(a, 'x'));
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: OCI_MANIFEST, digest: d, size: a.length }],
      }),
    );
    await put(f, 'a/app', index);
    const sig = await put(f, 'a/app', await image(f.blobs, 'a/app', 'sig', { digest: d, size: a.length }));
    expect(imageIdOf(parseManifest(index))).toBeUndefined();
    const empty = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.example',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(Buffer.from('{}')), size: 2 },
        layers: [],
      }),
    );
    expect(imageIdOf(parseManifest(empty))).toBeUndefined();

    const repo = new ImageIdRepository(f.redis, f.keys);
    expect(b).toBe(d);
    expect(await repo.holders(id)).toEqual([
      { name: 'a/app', digest: d },
      ...[d, other].sort().map((digest) => ({ name: 'b/app', digest })),
    ]);
    expect(await repo.find(id.slice(0, 11), 10)).toContain(id);
    // The signature is an image of its own (an image config), the index none.
    const sigId = imageIdOf(parseManifest((await f.manifests.read(sig))!.bytes))!;
    expect(await repo.holders(sigId)).toEqual([{ name: 'a/app', digest: sig }]);
  });

  it('drops a holder with its revision and the ID with its last holder; GC sweeps do too', async () => {
    const repo = new ImageIdRepository(f.redis, f.keys);
    const bytes = await image(f.blobs, 'c/app', 'gone');
    const id = imageIdOf(parseManifest(bytes))!;
    const d = await put(f, 'c/app', bytes);
    const d2 = await put(f, 'c/app', sameImageOtherManifest(bytes, 'y'));
    await f.manifests.remove('c/app', d);
    expect(await repo.holders(id)).toEqual([{ name: 'c/app', digest: d2 }]);
    expect(await repo.find(id, 10)).toEqual([id]);
    // GC's untagged sweep: the first pass stamps, the second (after the cutoff) removes.
    expect(await f.manifests.removeUntagged('c/app', [d2], 0)).toEqual([]);
    expect(await f.manifests.removeUntagged('c/app', [d2], (await f.now()) + 1)).toEqual([d2]);
    expect(await repo.holders(id)).toEqual([]);
    expect(await repo.find(id, 10)).toEqual([]);
  });

  it('backfills from the revisions once when an older version left no image-ID keys', async () => {
    const repo = new ImageIdRepository(f.redis, f.keys);
    const bytes = await image(f.blobs, 'g/app', 'backfilled');
    const id = imageIdOf(parseManifest(bytes))!;
    const d = await put(f, 'g/app', bytes);
    await f.manifests.ensureImageIds();
    expect(await repo.isComplete()).toBe(true);
    const k = metadataKeys(f.keys);
    const wipe = async () => delEach(f.redis, [k.imageIds(), ...(await keysEverywhere(f.redis, k.imageHolders('*')))]);
    // Marked complete: a lookup does not backfill again.
    await wipe();
    await f.manifests.ensureImageIds();
    expect(await repo.find(id, 10)).toEqual([]);
    // What an older version leaves: revisions, no image-ID keys, no mark.
    await wipe();
    await f.redis.del(k.imageIdsIndexed());
    await f.manifests.ensureImageIds();
    expect(await repo.find(id, 10)).toEqual([id]);
    expect(await repo.holders(id)).toEqual([{ name: 'g/app', digest: d }]);
    expect(await repo.isComplete()).toBe(true);
  });

  it('answers only holders whose revision is still in the repository', async () => {
    const repo = new ImageIdRepository(f.redis, f.keys);
    const bytes = await image(f.blobs, 'h/app', 'stale');
    const id = imageIdOf(parseManifest(bytes))!;
    const d = await put(f, 'h/app', bytes);
    // A holder a racing backfill put back after its revision went.
    await f.redis.sadd(metadataKeys(f.keys).imageHolders(id), `gone/app@${d}`);
    expect(await repo.holders(id)).toEqual([{ name: 'h/app', digest: d }]);
  });

  it('comes back from storage on reindex after its keys are flushed', async () => {
    const repo = new ImageIdRepository(f.redis, f.keys);
    const bytes = await image(f.blobs, 'e/app', 'reindexed');
    const id = imageIdOf(parseManifest(bytes))!;
    const d = await put(f, 'e/app', bytes);
    const before = await repo.holders(id);
    expect(before).toEqual([{ name: 'e/app', digest: d }]);
    const k = metadataKeys(f.keys);
    const holderKeys = await keysEverywhere(f.redis, k.imageHolders('*'));
    expect(holderKeys.length).toBeGreaterThan(0);
    await delEach(f.redis, [k.imageIds(), k.imageIdsIndexed(), ...holderKeys]);
    expect(await repo.find(id, 10)).toEqual([]);
    await new ManifestReindex(f.storage, f.blobs, f.manifests, f.tags).run();
    expect(await repo.isComplete()).toBe(true);
    expect(await repo.find(id.slice(0, 12), 10)).toEqual([id]);
    expect(await repo.holders(id)).toEqual(before);
  });
});
