// The in-process metadata service (ManifestMetadata, as createManifestMetadata builds it) against a
// real Redis and both storage drivers (filesystem, and S3 on the shared Ceph RGW): puts by tag and by
// digest with their checks, tag moves and deletes, manifest deletes, referrers, tag and catalog
// paging, reindex after a flush, and GC's removal of untagged manifests and purge of records.
import { Readable } from 'node:stream';
import Redis from 'ioredis';
import { digestOf, type Digest } from '@stevedore/oci';
import { RedisKeys } from '@stevedore/platform';
import { createStorageDriver, type StorageDriver } from '@stevedore/storage';
import { createLayerStorage, type BlobGcService, type BlobService } from '@stevedore/blobs';
import { startRedis, testStorage, type RunningRedis } from '@stevedore/testing';
import { createManifestMetadata } from './manifest-metadata';
import type { ManifestGcService, MetadataService } from './metadata-service';

jest.setTimeout(120_000);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const code = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: { code?: string }) => e.code,
  );

let redisServer: RunningRedis;
beforeAll(async () => {
  redisServer = await startRedis();
});
afterAll(async () => {
  await redisServer?.stop();
});

describe.each(['filesystem', 's3'] as const)('ManifestMetadata (%s)', (kind) => {
  let storage: StorageDriver;
  let redis: Redis;
  let blobs: BlobService & BlobGcService;
  let store: MetadataService & ManifestGcService;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const t = await testStorage(kind, 'manifestmetadata');
    storage = await createStorageDriver(t.options);
    close = async () => {
      await storage.close?.();
      await t.close();
    };
    redis = new Redis(redisServer.url);
    const keys = new RedisKeys(`manifest-metadata-${kind}`);
    blobs = createLayerStorage(storage, redis, keys);
    store = createManifestMetadata(storage, redis, keys, blobs, blobs, { maxManifestBytes: 64 * 1024 });
  });
  afterAll(async () => {
    redis?.disconnect();
    await close?.();
  });

  /** An image manifest of `name` whose config blob is stored; `extra` makes it unique. */
  async function image(name: string, extra: string, subject?: { digest: string; size: number }): Promise<Buffer> {
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { extra } }, rootfs: { type: 'layers', diff_ids: [] } }),
    );
    const c = await blobs.putBlob(name, Readable.from([config]));
    const m: Record<string, unknown> = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
      layers: [],
    };
    if (subject) Object.assign(m, { subject: { mediaType: OCI_MANIFEST, ...subject }, artifactType: 'application/vnd.example+json' });
    return Buffer.from(JSON.stringify(m));
  }

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
    await redis.flushall();
    expect(await code(store.getManifest({ name: 'c/app', tag: 'v1' }))).toBe('MANIFEST_UNKNOWN');
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
    const [s, us] = await redis.time();
    const now = Number(s) * 1000 + Math.floor(Number(us) / 1000);
    // First sight stamps them; nothing goes before the cutoff has passed since.
    expect(await store.deleteUntagged('d/app', candidates, { olderThan: now - 60_000 })).toEqual([]);
    expect(await store.deleteUntagged('d/app', candidates, { olderThan: now + 60_000 })).toEqual([digestOf(loose)]);
    expect(await code(store.getManifest({ name: 'd/app', digest: digestOf(loose) }))).toBe('MANIFEST_UNKNOWN');
    expect((await store.getManifest({ name: 'd/app', tag: 'keep' })).digest).toBe(digestOf(tagged));
    const records = await store.listManifests('d/app');
    expect(records.map((m) => m.digest)).toEqual([digestOf(tagged)]);
    expect(records[0].tags.map((t) => t.tag)).toEqual(['keep']);
  });
});
