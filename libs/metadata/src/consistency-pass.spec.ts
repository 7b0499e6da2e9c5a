// The consistency pass against a real Redis and both storage drivers: entries Redis lost come back
// from storage, entries storage no longer backs go, a tag naming the wrong digest is corrected, a
// dry run only reports; and the races it must not lose, provoked at fixed points: an untag landing
// between the two looks or after the write-back, a push writing storage between the looks, a
// writer holding the digest while a removal is due, a GC sweep of a blob whose link is being added.
import { Readable } from 'node:stream';
import { digestHex, digestOf, type Digest } from '@stevedore/oci';
import { OCI_MANIFEST, STORAGE_KINDS, image, useMetadataFixture, useRedisServer } from '../test/metadata-fixture';
import { createConsistencyPass, type ConsistencyPassOptions, type ConsistencyReport } from './consistency-pass';
import { createManifestMetadata } from './manifest-metadata';
import { metadataKeys, metadataPaths } from './metadata-layout';
import type { MetadataService } from './metadata-service';

jest.setTimeout(180_000);
const server = useRedisServer();

describe.each(STORAGE_KINDS)('consistency pass (%s)', (kind) => {
  const f = useMetadataFixture(server, kind, 'consistency');
  let service: MetadataService;
  let k: ReturnType<typeof metadataKeys>;
  beforeAll(() => {
    service = createManifestMetadata(f.storage, f.redis, f.keys, f.blobs, f.blobs, { maxManifestBytes: 64 * 1024 });
    k = metadataKeys(f.keys);
  });

  const run = (options: ConsistencyPassOptions = {}, dryRun = false): Promise<ConsistencyReport> =>
    createConsistencyPass(f.storage, f.redis, f.keys, { settleMs: 20, ...options }).run({ dryRun });

  /** Push an image manifest into `name` (tagged when `tag` is given): its digest and its config's. */
  async function push(name: string, tag?: string, extra = `${name}:${tag}`): Promise<{ digest: Digest; config: Digest }> {
    const bytes = await image(f.blobs, name, extra);
    const r = await service.putManifest(tag ? { name, tag } : { name, digest: digestOf(bytes) }, bytes, OCI_MANIFEST);
    return { digest: r.digest, config: JSON.parse(bytes.toString()).config.digest as Digest };
  }

  // Layer storage's keys and paths as its layout builds them (blob-layout.ts; not exported past libs/blobs).
  const blobKey = (d: Digest) => f.keys.key('blob', f.keys.tag(d));
  const layersKey = (name: string) => f.keys.repo(name, 'layers');
  const blobData = (d: Digest) => `blobs/sha256/${digestHex(d).slice(0, 2)}/${digestHex(d)}/data`;
  const layerLink = (name: string, d: Digest) => `repositories/${name}/_layers/sha256/${digestHex(d)}/link`;

  it('finds nothing in a registry whose index matches storage', async () => {
    await push('clean/app', 'v1');
    await push('clean/app', 'v2');
    await push('clean/app');
    const progress: number[] = [];
    const report = await createConsistencyPass(f.storage, f.redis, f.keys, { settleMs: 20 }).run({ onProgress: (n) => progress.push(n) });
    expect(report).toMatchObject({ found: 0, repaired: 0, byKind: {} });
    expect(report.repositories).toBeGreaterThanOrEqual(1);
    expect(progress.at(-1)).toBe(report.repositories);
  });

  it('writes back every kind of entry Redis lost, and a second pass finds nothing', async () => {
    await push('lost/tag', 'v1');
    const rev = await push('lost/rev');
    const link = await push('lost/link', 'v1');
    const blob = await push('lost/blob', 'v1');
    const record = await push('lost/record', 'v1');
    await push('lost/catalog', 'v1');
    const held = await push('lost/imageid', 'v1');

    await f.redis.hdel(k.tags('lost/tag'), 'v1');
    await f.redis.srem(k.revisions('lost/rev'), rev.digest);
    await f.redis.srem(layersKey('lost/link'), link.config);
    await f.redis.del(blobKey(blob.config));
    await f.redis.del(k.manifest(record.digest));
    await f.redis.zrem(k.catalog(), 'lost/catalog');
    await f.redis.srem(k.imageHolders(held.config), `lost/imageid@${held.digest}`);

    const report = await run();
    expect(report.byKind).toEqual({
      tag: { add: 1, remove: 0, correct: 0 },
      revision: { add: 1, remove: 0, correct: 0 },
      link: { add: 1, remove: 0, correct: 0 },
      blob: { add: 1, remove: 0, correct: 0 },
      manifest: { add: 1, remove: 0, correct: 0 },
      catalog: { add: 1, remove: 0, correct: 0 },
      imageid: { add: 1, remove: 0, correct: 0 },
    });
    expect(report).toMatchObject({ found: 7, repaired: 7, takenBack: 0 });

    expect((await service.listTags('lost/tag')).items).toEqual(['v1']);
    expect(await f.manifests.isLinked('lost/rev', rev.digest)).toBe(true);
    expect(await f.blobs.stat('lost/link', link.config)).toMatchObject({ digest: link.config });
    expect(await f.blobs.stat('lost/blob', blob.config)).toMatchObject({ digest: blob.config });
    expect(await f.redis.hget(k.manifest(record.digest), 'mediaType')).toBe(OCI_MANIFEST);
    expect((await service.catalog()).items).toContain('lost/catalog');
    expect((await service.imageHolders(held.config)).map((h) => h.name)).toEqual(['lost/imageid']);
    expect((await run()).found).toBe(0);
  });

  it('removes entries whose storage objects are gone', async () => {
    await push('stale/tag', 'v1');
    const rev = await push('stale/rev');
    const link = await push('stale/link', 'v1');
    const blob = await f.blobs.putBlob('stale/blob', Readable.from([Buffer.from('a blob whose bytes will go')]));
    const record = await push('stale/record');
    const ghostHolder = digestOf('no such manifest');
    const ghostId = digestOf('an image nothing holds');
    await f.redis.sadd(k.imageHolders(digestOf('an id')), `stale/ghost@${ghostHolder}`);
    await f.redis.zadd(k.imageIds(), 0, digestOf('an id'));
    await f.redis.zadd(k.imageIds(), 0, ghostId);
    await f.redis.zadd(k.catalog(), 0, 'stale/ghost');

    await f.storage.delete(metadataPaths.tagCurrent('stale/tag', 'v1'));
    await f.storage.delete(metadataPaths.revisionLink('stale/rev', rev.digest));
    await f.storage.delete(layerLink('stale/link', link.config));
    await f.storage.delete(blobData(blob.digest));
    await f.storage.delete(blobData(record.digest));

    const report = await run();
    expect(report.byKind).toEqual({
      tag: { add: 0, remove: 1, correct: 0 },
      revision: { add: 0, remove: 1, correct: 0 },
      link: { add: 0, remove: 1, correct: 0 },
      blob: { add: 0, remove: 1, correct: 0 },
      manifest: { add: 0, remove: 1, correct: 0 },
      catalog: { add: 0, remove: 1, correct: 0 },
      imageid: { add: 0, remove: 2, correct: 0 },
    });
    expect((await service.listTags('stale/tag')).items).toEqual([]);
    expect(await f.manifests.isLinked('stale/rev', rev.digest)).toBe(false);
    // The removed revision's image holder went with it.
    expect(await service.imageHolders(rev.config)).toEqual([]);
    expect(await f.redis.sismember(layersKey('stale/link'), link.config)).toBe(0);
    expect(await f.redis.exists(blobKey(blob.digest))).toBe(0);
    expect(await f.redis.exists(k.manifest(record.digest))).toBe(0);
    expect(await f.redis.zscore(k.imageIds(), ghostId)).toBeNull();
    expect((await service.catalog()).items).not.toContain('stale/ghost');
    expect((await run()).found).toBe(0);
  });

  it('corrects a tag Redis has naming another digest than storage', async () => {
    const one = await push('wrong/app', 'v1');
    const two = await push('wrong/app');
    await f.redis.hset(k.tags('wrong/app'), 'v1', two.digest);
    const report = await run();
    expect(report.byKind).toEqual({ tag: { add: 0, remove: 0, correct: 1 } });
    expect(await f.tags.current('wrong/app', 'v1')).toBe(one.digest);
  });

  it('shares the settle waits across a batch of repositories', async () => {
    const names = ['batch/a', 'batch/b', 'batch/c', 'batch/d', 'batch/e', 'batch/f'];
    for (const name of names) {
      await push(name, 'v1');
      await f.redis.hdel(k.tags(name), 'v1');
    }
    const settleMs = 1000;
    const report = await run({ settleMs });
    expect(report.byKind).toEqual({ tag: { add: 6, remove: 0, correct: 0 } });
    // Two waits per batch (before the second look, before the check after writing back), not per repository.
    expect(report.durationMs).toBeGreaterThanOrEqual(2 * settleMs);
    expect(report.durationMs).toBeLessThan(names.length * 2 * settleMs);
    for (const name of names) expect(await f.tags.current(name, 'v1')).toBeDefined();
  });

  it('only reports in a dry run', async () => {
    await push('dry/app', 'v1');
    await f.redis.hdel(k.tags('dry/app'), 'v1');
    const report = await run({}, true);
    expect(report).toMatchObject({ dryRun: true, found: 1, repaired: 0, byKind: {} });
    expect(report.findings).toEqual([
      { kind: 'tag', action: 'add', repository: 'dry/app', subject: 'v1', expected: expect.any(String), repaired: false },
    ]);
    expect(await f.tags.current('dry/app', 'v1')).toBeUndefined();
    expect((await run()).byKind).toEqual({ tag: { add: 1, remove: 0, correct: 0 } });
  });

  it('does not bring back a tag whose untag lands between the two looks', async () => {
    await push('race/untag', 'v1');
    // The untag's first step (Redis, as TagRepository.remove does it) ...
    await f.redis.multi().hdel(k.tags('race/untag'), 'v1').zrem(k.tagNames('race/untag'), 'v1').hdel(k.tagTimes('race/untag'), 'v1').exec();
    // ... and its second (the link) while the pass waits to look again.
    const report = await run({
      beforeSecondLook: async (name) => {
        if (name === 'race/untag') await f.storage.delete(metadataPaths.tagCurrent('race/untag', 'v1'));
      },
    });
    expect(report.found).toBe(0);
    expect((await service.listTags('race/untag')).items).toEqual([]);
  });

  it('takes back a tag whose untag deleted the link after the write-back', async () => {
    await push('race/late', 'v1');
    await f.redis.hdel(k.tags('race/late'), 'v1');
    const report = await run({
      afterAdditions: async (name) => {
        if (name === 'race/late') await f.storage.delete(metadataPaths.tagCurrent('race/late', 'v1'));
      },
    });
    expect(report).toMatchObject({ repaired: 1, takenBack: 1 });
    expect(await f.tags.current('race/late', 'v1')).toBeUndefined();
    expect((await service.listTags('race/late')).items).toEqual([]);
  });

  it('does not remove a tag a push stores between the two looks', async () => {
    const { digest } = await push('race/push');
    // Redis names v1 but storage has no link (as after losing it) ...
    await f.redis.hset(k.tags('race/push'), 'v1', digest);
    const report = await run({
      // ... until a tagging writes it (storage first; its Redis step is the same entry).
      beforeSecondLook: async (name) => {
        if (name === 'race/push') await f.tags.set('race/push', 'v1', digest);
      },
    });
    expect(report.found).toBe(0);
    expect(await f.tags.current('race/push', 'v1')).toBe(digest);
  });

  it('leaves an entry due for removal while a writer holds its digest, and removes it once it is done', async () => {
    await push('race/writer', 'v1');
    const digest = (await f.tags.current('race/writer', 'v1'))!;
    await f.storage.delete(metadataPaths.tagCurrent('race/writer', 'v1'));
    await f.guard.begin([digest]);
    let report: ConsistencyReport;
    try {
      report = await run();
    } finally {
      await f.guard.end([digest], false);
    }
    expect(report).toMatchObject({ found: 1, repaired: 0 });
    expect(await f.tags.current('race/writer', 'v1')).toBe(digest);
    expect((await run()).byKind).toEqual({ tag: { add: 0, remove: 1, correct: 0 } });
    expect(await f.tags.current('race/writer', 'v1')).toBeUndefined();
  });

  it('does not write back a link a GC sweep is removing (its lease holds the write-back until the objects are gone)', async () => {
    const { config } = await push('race/gc', 'v1');
    let release!: () => void;
    const go = new Promise<void>((r) => (release = r));
    // GC's sweep: Redis first under the lease, then the objects, then the lease goes.
    const sweep = f.guard.sweep(config, async () => {
      await f.redis.srem(layersKey('race/gc'), config);
      await f.redis.del(blobKey(config));
      await go;
      await f.storage.deleteMany([layerLink('race/gc', config), blobData(config)]);
    });
    const report = await run({
      beforeRepair: async (name) => {
        if (name === 'race/gc') release();
      },
    });
    expect(await sweep).toEqual({ value: undefined });
    expect(report.findings.filter((x) => x.repository === 'race/gc')).toEqual([
      expect.objectContaining({ kind: 'link', action: 'add', repaired: false }),
    ]);
    expect(await f.redis.sismember(layersKey('race/gc'), config)).toBe(0);
    expect(await f.redis.exists(blobKey(config))).toBe(0);
  });
});
