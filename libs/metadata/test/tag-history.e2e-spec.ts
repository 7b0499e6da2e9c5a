// Tag history and tag times are durable: storage's tag links (and their modification times) are the
// truth, Redis the index. Against a private redis-server and a filesystem storage: tag moves through
// tagManifest and through putManifest with a tag, then FLUSHALL + reindex gives the same history
// (same digests, same order) and the same times, to within the storage's time resolution.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import Redis from 'ioredis';
import { digestOf, type Digest, manifestReference } from '@stevedore/oci';
import { RedisKeys } from '@stevedore/platform';
import { metadataKeys, metadataPaths } from '../src/metadata-layout';
import { FilesystemDriver } from '@stevedore/storage';
import { createLayerStorage, type BlobGcService, type BlobService } from '@stevedore/blobs';
import { startRedis, type RunningRedis } from '@stevedore/testing';
import { createManifestMetadata, type ManifestGcService, type MetadataService, type TagHistoryEntry } from '../src';

jest.setTimeout(60_000);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
// The filesystem keeps nanoseconds; Redis' times are taken right after the link is written.
const RESOLUTION_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: RunningRedis;
let redis: Redis;
let dir: string;
let storage: FilesystemDriver;
let blobs: BlobService & BlobGcService;
let store: MetadataService & ManifestGcService;
const keys = new RedisKeys('hist');

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  dir = mkdtempSync(path.join(os.tmpdir(), 'tag-history-'));
  storage = new FilesystemDriver(dir);
  blobs = createLayerStorage(storage, redis, keys);
  store = createManifestMetadata(storage, redis, keys, blobs, blobs, { maxManifestBytes: 4 * 1024 * 1024 });
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A small image of repository `name` (its config blob pushed first); returns the manifest bytes. */
async function image(name: string, label: string): Promise<Buffer> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { label } }, rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const c = await blobs.putBlob(name, Readable.from([config]));
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
      layers: [],
    }),
  );
}

async function put(name: string, reference: string, bytes: Buffer): Promise<Digest> {
  return (await store.putManifest(manifestReference(name, reference), bytes, OCI_MANIFEST)).digest;
}

async function tagTimes(name: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of await store.listManifests(name)) for (const t of m.tags) out[t.tag] = t.taggedAt;
  return out;
}

describe('tag history and tag times survive a Redis loss', () => {
  const name = 'team/app';
  let a: Digest, b: Digest, c: Digest;
  let historyBefore: TagHistoryEntry[];
  let otherBefore: TagHistoryEntry[];
  let timesBefore: Record<string, number>;

  beforeAll(async () => {
    // v1: A (push), B (push), A again (tag), C (tag). Each digest once, ordered by its last naming.
    a = await put(name, 'v1', await image(name, 'a'));
    await sleep(30);
    b = await put(name, 'v1', await image(name, 'b'));
    await sleep(30);
    const cBytes = await image(name, 'c');
    c = await put(name, digestOf(cBytes), cBytes); // by digest: no tag
    await sleep(30);
    await store.tagManifest(name, 'v1', a);
    await sleep(30);
    await store.tagManifest(name, 'v1', c);
    await sleep(30);
    await store.tagManifest(name, 'other', b);
    // A deleted tag keeps its history, as storage keeps its index entries.
    await store.tagManifest(name, 'gone', a);
    await store.deleteTag(name, 'gone');
    historyBefore = await store.tagHistory(name, 'v1');
    otherBefore = await store.tagHistory(name, 'other');
    timesBefore = await tagTimes(name);
  });

  it('records each digest once, in the order the tag last named it, with the time', () => {
    expect(historyBefore.map((h) => h.digest)).toEqual([b, a, c]);
    const times = historyBefore.map((h) => h.taggedAt);
    expect([...times].sort((x, y) => x - y)).toEqual(times);
    for (const t of times) expect(Math.abs(Date.now() - t)).toBeLessThan(30_000);
    expect(otherBefore.map((h) => h.digest)).toEqual([b]);
    expect(Object.keys(timesBefore).sort()).toEqual(['other', 'v1']);
  });

  it('FLUSHALL + reindex gives the same history and times', async () => {
    const gone = await store.tagHistory(name, 'gone');
    expect(gone.map((h) => h.digest)).toEqual([a]);
    await redis.flushall();
    expect(await store.tagHistory(name, 'v1')).toEqual([]);
    await store.reindex();
    const after = await store.tagHistory(name, 'v1');
    expect(after.map((h) => h.digest)).toEqual(historyBefore.map((h) => h.digest));
    after.forEach((h, i) => expect(Math.abs(h.taggedAt - historyBefore[i].taggedAt)).toBeLessThanOrEqual(RESOLUTION_MS));
    expect((await store.tagHistory(name, 'other')).map((h) => h.digest)).toEqual([b]);
    expect((await store.tagHistory(name, 'gone')).map((h) => h.digest)).toEqual([a]);
    // Tag times come back into Redis (not read from storage on every listing).
    const raw = await redis.hgetall(metadataKeys(keys).tagTimes(name));
    expect(Object.keys(raw).sort()).toEqual(['other', 'v1']);
    const timesAfter = await tagTimes(name);
    for (const t of ['v1', 'other']) {
      expect(Number(raw[t])).toBe(timesAfter[t]);
      expect(Math.abs(timesAfter[t] - timesBefore[t])).toBeLessThanOrEqual(RESOLUTION_MS);
    }
    // And they are the current link's time.
    const st = await storage.stat(metadataPaths.tagCurrent(name, 'v1'));
    expect(timesAfter.v1).toBe(st!.modTime.getTime());
  });

  it('tags after a reindex extend the rebuilt history', async () => {
    await store.tagManifest(name, 'v1', b);
    expect((await store.tagHistory(name, 'v1')).map((h) => h.digest)).toEqual([a, c, b]);
  });

  it('an old LIST under the former key family is no obstacle', async () => {
    // The former family, written as an older version did (no builder: nothing current uses it).
    await redis.rpush(keys.repo(name, 'taghistory', 'v1'), a);
    await store.tagManifest(name, 'v1', a);
    expect((await store.tagHistory(name, 'v1')).map((h) => h.digest)).toEqual([c, b, a]);
  });
});
