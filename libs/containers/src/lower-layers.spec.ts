// LowerLayers against a real Redis and filesystem storage: a layer is read from its tarball once, its
// index then served from memory (shared by every image with that layer) within a byte budget,
// reloaded from Redis (never from the tarball) after an eviction, and dropped when Redis lost it.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import Redis from 'ioredis';
import tar from 'tar-stream';
import type { BlobService } from '@stevedore/blobs';
import { digestOf, type Digest } from '@stevedore/oci';
import { RedisKeys } from '@stevedore/platform';
import { FilesystemDriver } from '@stevedore/storage';
import { startRedis, type RunningRedis } from '@stevedore/testing';
import { StorageContentStore } from './content-store';
import { ContainerPaths, containerKeys } from './container-layout';
import { LowerLayers } from './lower-layers';
import type { ContainerImage } from './container';

let redisServer: RunningRedis;
let redis: Redis;
let root: string;
let storage: FilesystemDriver;
const keys = containerKeys(new RedisKeys('lower-layers'));
const layerKeys = { cache: keys.layerIndex, used: keys.layerUsed };

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  root = mkdtempSync(path.join(os.tmpdir(), 'lower-layers-'));
  storage = new FilesystemDriver(root);
});
afterAll(async () => {
  redis?.disconnect();
  await redisServer?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Layers by digest, and how often each tarball was opened. */
function blobsOf(layers: Buffer[]): { blobs: BlobService; digests: Digest[]; opens: Map<Digest, number> } {
  const byDigest = new Map(layers.map((l) => [digestOf(l), l]));
  const opens = new Map<Digest, number>();
  const blobs = {
    open: async (_name: string, d: Digest) => {
      opens.set(d, (opens.get(d) ?? 0) + 1);
      return { info: { digest: d, size: byDigest.get(d)!.length }, stream: Readable.from([byDigest.get(d)!]) };
    },
  } as unknown as BlobService; // a fake with only the method LowerLayers reaches
  return { blobs, digests: [...byDigest.keys()], opens };
}

const image = (tag: string, layers: Digest[]): ContainerImage => ({
  reference: `lower/test:${tag}`,
  repository: 'lower/test',
  manifestDigest: digestOf(Buffer.from(`manifest ${tag}`)),
  configDigest: digestOf(Buffer.from(`config ${tag}`)),
  layers,
});

describe('LowerLayers', () => {
  it('reads a layer once; its index then comes from memory, shared by every image that has the layer', async () => {
    const { blobs, digests, opens } = blobsOf([await tarOf({ 'etc/os-release': 'base\n' }), await tarOf({ 'app/run': 'a' })]);
    const [base, app] = digests;
    const lower = new LowerLayers(blobs, storage, redis, layerKeys, new StorageContentStore(storage));
    const first = await lower.layer('lower/test', base);
    // Gone from Redis and storage: only memory can answer now, and it must, without the tarball.
    await redis.del(layerKeys.cache(base));
    await storage.delete(ContainerPaths.layerIndex(base));
    expect(await lower.layer('lower/test', base)).toBe(first);
    const a = await lower.view(image('a', [base]));
    const b = await lower.view(image('b', [base, app]));
    expect(a.lookup('etc/os-release')).toMatchObject({ type: 'file', size: 5 });
    expect(b.lookup('app/run')).toMatchObject({ type: 'file', size: 1 });
    expect(opens.get(base)).toBe(1);
    expect(opens.get(app)).toBe(1);
    expect(lower.cached.indexes).toBe(2);
  });

  it('keeps indexes within its byte budget, reloading an evicted one from Redis, not from the layer', async () => {
    const layers = await Promise.all(
      [0, 1, 2].map((i) => tarOf(Object.fromEntries(Array.from({ length: 40 }, (_, j) => [`d${i}/f${j}`, `${i}.${j}`])))),
    );
    const { blobs, digests, opens } = blobsOf(layers);
    // Learn one index's weight, then allow a little more than two.
    const probe = new LowerLayers(blobs, storage, redis, layerKeys, new StorageContentStore(storage));
    await probe.layer('lower/test', digests[0]);
    const one = probe.cached.bytes;
    expect(one).toBeGreaterThan(0);
    const budget = Math.floor(one * 2.5);
    const lower = new LowerLayers(blobs, storage, redis, layerKeys, new StorageContentStore(storage), budget);
    const ix0 = await lower.layer('lower/test', digests[0]);
    await lower.layer('lower/test', digests[1]);
    await lower.layer('lower/test', digests[2]);
    expect(lower.cached.indexes).toBe(2);
    expect(lower.cached.bytes).toBeLessThanOrEqual(budget);
    // digests[0] was the least recently used: evicted, reloaded from Redis as a new, equal index.
    const again = await lower.layer('lower/test', digests[0]);
    expect(again).not.toBe(ix0);
    expect([...again.entries()]).toEqual([...ix0.entries()]);
    expect(digests.map((d) => opens.get(d))).toEqual([1, 1, 1]);
    expect(lower.cached.bytes).toBeLessThanOrEqual(budget);
  });

  it('keeps no index heavier than the whole budget, and still answers with it', async () => {
    const { blobs, digests, opens } = blobsOf([await tarOf({ 'big/file': 'x'.repeat(100) })]);
    const lower = new LowerLayers(blobs, storage, redis, layerKeys, new StorageContentStore(storage), 10);
    const ix = await lower.layer('lower/test', digests[0]);
    expect(ix.get('big/file')).toMatchObject({ type: 'file', size: 100 });
    expect(lower.cached).toEqual({ indexes: 0, bytes: 0 });
    expect((await lower.view(image('big', digests))).lookup('big/file')).toMatchObject({ size: 100 });
    expect(opens.get(digests[0])).toBe(1);
  });

  it('drops an index Redis lost (the container GC removed it) when an image is touched, and reads the layer again', async () => {
    const { blobs, digests, opens } = blobsOf([await tarOf({ 'srv/data': 'gc me' })]);
    const lower = new LowerLayers(blobs, storage, redis, layerKeys, new StorageContentStore(storage));
    const img = image('gc', digests);
    await lower.view(img);
    await lower.touch(img);
    expect(lower.cached.indexes).toBe(1);
    // What the collector does to an index no container uses: the Redis copy and the stored one go.
    await redis.del(layerKeys.cache(digests[0]));
    await storage.delete(ContainerPaths.layerIndex(digests[0]));
    await lower.touch(img);
    expect(lower.cached.indexes).toBe(0);
    expect((await lower.view(img)).lookup('srv/data')).toMatchObject({ size: 5 });
    expect(opens.get(digests[0])).toBe(2);
    expect(await redis.exists(layerKeys.cache(digests[0]))).toBe(1);
  });
});
