// Layer storage against a real Redis and both storage drivers (filesystem, and S3 on the shared Ceph
// RGW): the read path, uploads (chunked, resumable, digest-checked), links and mounts, reindex
// after a flush, the GC sweep's lease and grace, and upload purging.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import Redis from 'ioredis';
import { digestOf, type Digest } from '@stevedore/oci';
import { RedisKeys } from '@stevedore/platform';
import { createStorageDriver, type StorageDriver } from '@stevedore/storage';
import { startRedis, testStorage, type RunningRedis } from '@stevedore/testing';
import type { BlobGcService, BlobService } from './blob-service';
import { createLayerStorage } from './layer-storage';

jest.setTimeout(120_000);

const body = (b: Buffer) => Readable.from([b]);
async function read(s: Readable | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s!) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
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

describe.each(['filesystem', 's3'] as const)('LayerStorage (%s)', (kind) => {
  let storage: StorageDriver;
  let redis: Redis;
  let store: BlobService & BlobGcService;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const t = await testStorage(kind, 'blobstore');
    storage = await createStorageDriver(t.options);
    close = async () => {
      await storage.close?.();
      await t.close();
    };
    redis = new Redis(redisServer.url);
    // A prefix per driver: both suites share one Redis.
    store = createLayerStorage(storage, redis, new RedisKeys(`layer-storage-${kind}`));
  });
  afterAll(async () => {
    redis?.disconnect();
    await close?.();
  });

  it('stores a blob once, links it per repository, serves it whole and by range', async () => {
    const bytes = randomBytes(300_000);
    const d = digestOf(bytes);
    expect(await store.putBlob('a/one', body(bytes), d)).toEqual({ digest: d, size: bytes.length });
    expect(await store.stat('a/one', d)).toEqual({ digest: d, size: bytes.length });
    expect(await store.stat('a/two', d)).toBeUndefined();
    expect(await store.exists(d)).toEqual({ digest: d, size: bytes.length });
    expect((await read((await store.open('a/one', d)).stream)).equals(bytes)).toBe(true);
    const part = await store.open('a/one', d, { range: { start: 10, end: 19 } });
    expect(part.range).toEqual({ start: 10, end: 19 });
    expect((await read(part.stream)).equals(bytes.subarray(10, 20))).toBe(true);
    expect(await code(store.open('a/one', d, { range: { start: bytes.length, end: bytes.length + 5 } }))).toBe('RANGE_INVALID');
    expect(await code(store.open('a/two', d))).toBe('BLOB_UNKNOWN');
    // A mount links without moving bytes; a mount from a repository without it is refused.
    expect(await store.mount('a/two', 'a/one', d)).toEqual({ digest: d, size: bytes.length });
    expect(await store.mount('a/three', 'a/nothing', d)).toBeUndefined();
    expect((await store.listLinks('a/two')).includes(d)).toBe(true);
    await store.unlink('a/two', d);
    expect(await store.stat('a/two', d)).toBeUndefined();
    expect(await store.stat('a/one', d)).toBeDefined();
  });

  it('refuses bytes that do not match the expected digest and links nothing', async () => {
    const bytes = randomBytes(1000);
    const wrong = digestOf(Buffer.from('other')) as Digest;
    expect(await code(store.putBlob('b/x', body(bytes), wrong))).toBe('DIGEST_INVALID');
    expect(await store.stat('b/x', wrong)).toBeUndefined();
    expect(await store.stat('b/x', digestOf(bytes))).toBeUndefined();
  });

  it('takes a chunked upload in order, resumes from its offset, and checks the digest at the end', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const d = digestOf(bytes);
    const up = await store.startUpload('c/app');
    expect(up.offset).toBe(0);
    const first = bytes.subarray(0, 1024 * 1024);
    expect((await store.appendChunk('c/app', up.id, body(first), { start: 0, end: first.length - 1 })).offset).toBe(first.length);
    // A chunk that does not start at the offset is refused, and the session is unchanged.
    expect(await code(store.appendChunk('c/app', up.id, body(Buffer.from('x')), { start: 5, end: 5 }))).toBe('RANGE_INVALID');
    expect((await store.uploadStatus('c/app', up.id)).offset).toBe(first.length);
    const second = bytes.subarray(first.length, 2 * 1024 * 1024);
    await store.appendChunk('c/app', up.id, body(second), { start: first.length, end: first.length + second.length - 1 });
    // The rest comes with the completing PUT; a wrong digest fails it, and the session stays.
    expect(await code(store.completeUpload('c/app', up.id, digestOf(Buffer.from('no')), body(bytes.subarray(2 * 1024 * 1024))))).toBe(
      'DIGEST_INVALID',
    );
    const again = await store.startUpload('c/app');
    await store.appendChunk('c/app', again.id, body(bytes));
    expect(await store.completeUpload('c/app', again.id, d)).toEqual({ digest: d, size: bytes.length });
    expect((await read((await store.open('c/app', d)).stream)).equals(bytes)).toBe(true);
    expect(await code(store.uploadStatus('c/app', again.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    // An upload belongs to its repository.
    const other = await store.startUpload('c/app');
    expect(await code(store.uploadStatus('c/elsewhere', other.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    await store.cancelUpload('c/app', other.id);
    expect(await code(store.uploadStatus('c/app', other.id))).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('rebuilds the blob and link indexes from storage after Redis is flushed', async () => {
    const bytes = randomBytes(5000);
    const d = digestOf(bytes);
    await store.putBlob('d/app', body(bytes), d);
    await redis.flushall();
    expect(await store.stat('d/app', d)).toBeUndefined();
    expect(await store.reindex()).toBeGreaterThanOrEqual(1);
    expect(await store.stat('d/app', d)).toEqual({ digest: d, size: bytes.length });
  });

  it('sweeps only what was last touched before the cutoff, under a lease, and unlinks on request', async () => {
    const keep = randomBytes(2000);
    const drop = randomBytes(3000);
    await store.putBlob('e/app', body(keep), digestOf(keep));
    await store.putBlob('e/app', body(drop), digestOf(drop));
    const [s, us] = await redis.time();
    const now = Number(s) * 1000 + Math.floor(Number(us) / 1000);
    // Touched since the cutoff (just pushed): skipped.
    const early = await store.sweepBlobs([{ digest: digestOf(drop), unlinkFrom: ['e/app'], deleteData: true }], {
      olderThan: now - 60_000,
    });
    expect(early.skipped).toEqual([digestOf(drop)]);
    expect(await store.stat('e/app', digestOf(drop))).toBeDefined();
    // Past the cutoff: index first, then storage.
    const r = await store.sweepBlobs([{ digest: digestOf(drop), unlinkFrom: ['e/app'], deleteData: true }], { olderThan: now + 60_000 });
    expect(r.deleted).toEqual([{ digest: digestOf(drop), size: drop.length }]);
    expect(await store.exists(digestOf(drop))).toBeUndefined();
    expect(await code(store.open('e/app', digestOf(drop)))).toBe('BLOB_UNKNOWN');
    expect(await store.stat('e/app', digestOf(keep))).toBeDefined();
    const page = await store.listBlobs();
    expect(page.items.map((b) => b.digest)).toContain(digestOf(keep));
    expect(page.items.map((b) => b.digest)).not.toContain(digestOf(drop));
  });

  it('purges upload sessions started before the cutoff, with their storage', async () => {
    const up = await store.startUpload('f/app');
    await store.appendChunk('f/app', up.id, body(randomBytes(4096)));
    const dry = await store.purgeUploads({ olderThan: Date.now() + 1000, dryRun: true });
    expect(dry.sessions).toBeGreaterThanOrEqual(1);
    expect((await store.uploadStatus('f/app', up.id)).offset).toBe(4096);
    const r = await store.purgeUploads({ olderThan: Date.now() + 1000 });
    expect(r.sessions).toBeGreaterThanOrEqual(1);
    expect(r.bytes).toBeGreaterThanOrEqual(4096);
    expect(await code(store.uploadStatus('f/app', up.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    const left: string[] = [];
    for await (const f of storage.list(`repositories/f/app/_uploads/`)) left.push(f.path);
    expect(left).toEqual([]);
  });
});
