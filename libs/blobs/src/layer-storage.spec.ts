// Layer storage, the service over its repositories, against a real Redis and both storage drivers:
// what the registry API sees (put, stat, open, mount, unlink, uploads end to end, reindex after a
// flush), the DigestGuard stamps its writes leave for GC, and the quota hook before anything is
// linked. Each repository's own behaviour is in its spec.
import { flushEverywhere } from '@stevedore/testing';
import { randomBytes } from 'node:crypto';
import { RegistryError, digestOf, type Digest } from '@stevedore/oci';
import { body, code, describeEachDriver, paths, read, redisNow } from '../test/drivers';
import { blobPaths } from './blob-layout';
import type { BlobGcService, BlobInfo, BlobQuota, BlobService } from './blob-service';
import { createLayerStorage } from './layer-storage';

/** A quota that records what it is asked and refuses namespaces starting with `full/`. */
class RecordingQuota implements BlobQuota {
  readonly asked: Array<[string, BlobInfo]> = [];
  async reserve(name: string, blob: BlobInfo): Promise<void> {
    this.asked.push([name, blob]);
    if (name.startsWith('full/')) throw new RegistryError('DENIED', 'quota exceeded', {});
  }
}

describeEachDriver('LayerStorage', (ctx) => {
  let store: BlobService & BlobGcService;
  let quota: RecordingQuota;
  beforeAll(() => {
    quota = new RecordingQuota();
    store = createLayerStorage(ctx.storage, ctx.redis, ctx.keys, { quota });
  });
  /** The touched stamp GC sees for `d`, from the listing it reads. */
  const touched = async (d: Digest) => {
    let cursor: string | undefined;
    do {
      const page = await store.listBlobs(cursor);
      const hit = page.items.find((b) => b.digest === d);
      if (hit) return hit.touched;
      cursor = page.cursor;
    } while (cursor);
    return undefined;
  };

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
    expect(await code(store.unlink('a/two', d))).toBe('BLOB_UNKNOWN');
  });

  it('refuses bytes that do not match the expected digest and links nothing', async () => {
    const bytes = randomBytes(1000);
    const wrong = digestOf(Buffer.from('other')) as Digest;
    expect(await code(store.putBlob('b/x', body(bytes), wrong))).toBe('DIGEST_INVALID');
    expect(await store.stat('b/x', wrong)).toBeUndefined();
    expect(await store.stat('b/x', digestOf(bytes))).toBeUndefined();
    expect(await store.exists(digestOf(bytes))).toBeUndefined();
    expect(await paths(ctx.storage, 'repositories/b/x/')).toEqual([]);
  });

  it('links a blob it already has without storing the body again', async () => {
    const bytes = randomBytes(2000);
    const d = digestOf(bytes);
    await store.putBlob('k/one', body(bytes), d);
    // The body is drained, not read: even bytes that would not verify are ignored.
    expect(await store.putBlob('k/two', body(Buffer.from('whatever')), d)).toEqual({ digest: d, size: 2000 });
    expect((await read((await store.open('k/two', d)).stream)).equals(bytes)).toBe(true);
  });

  it('completes a chunked upload: the blob appears, is linked, and the session is gone', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const d = digestOf(bytes);
    const up = await store.startUpload('c/app');
    await store.appendChunk('c/app', up.id, body(bytes.subarray(0, 1024 * 1024)), { start: 0, end: 1024 * 1024 - 1 });
    expect((await store.uploadStatus('c/app', up.id)).offset).toBe(1024 * 1024);
    // A wrong digest fails the completion and ends the session (as distribution cancels it).
    const wrong = await store.startUpload('c/app');
    expect(await code(store.completeUpload('c/app', wrong.id, digestOf(Buffer.from('no')), body(bytes)))).toBe('DIGEST_INVALID');
    expect(await code(store.uploadStatus('c/app', wrong.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(await store.completeUpload('c/app', up.id, d, body(bytes.subarray(1024 * 1024)))).toEqual({ digest: d, size: bytes.length });
    expect((await read((await store.open('c/app', d)).stream)).equals(bytes)).toBe(true);
    expect(await code(store.uploadStatus('c/app', up.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(await paths(ctx.storage, blobPaths.uploadRoot('c/app', up.id))).toEqual([]);
    // Completing the same bytes in another repository links the blob it already has.
    const again = await store.startUpload('c/other');
    expect(await store.completeUpload('c/other', again.id, d, body(bytes))).toEqual({ digest: d, size: bytes.length });
    expect(await store.stat('c/other', d)).toBeDefined();
    const cancelled = await store.startUpload('c/app');
    await store.cancelUpload('c/app', cancelled.id);
    expect(await code(store.uploadStatus('c/app', cancelled.id))).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('writes a whole body sent with the completion once, beside the blob, where storage can (no upload folder)', async () => {
    const touchedPaths: string[] = [];
    const watched = new Proxy(ctx.storage, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (typeof args[0] === 'string' && prop !== 'stat' && prop !== 'getContent') touchedPaths.push(`${String(prop)} ${args[0]}`);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const direct = createLayerStorage(watched, ctx.redis, ctx.keys, { quota });
    const bytes = randomBytes(200_000);
    const d = digestOf(bytes);
    const up = await direct.startUpload('w/app');
    const bad = await direct.startUpload('w/app');
    expect(await code(direct.completeUpload('w/app', bad.id, d, body(bytes.subarray(1))))).toBe('DIGEST_INVALID');
    expect(await code(direct.uploadStatus('w/app', bad.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(await direct.exists(d)).toBeUndefined();
    expect(await ctx.storage.stat(blobPaths.blobData(d))).toBeUndefined();
    expect(await direct.completeUpload('w/app', up.id, d, body(bytes), bytes.length)).toEqual({ digest: d, size: bytes.length });
    expect((await read((await direct.open('w/app', d)).stream)).equals(bytes)).toBe(true);
    expect(await code(direct.uploadStatus('w/app', up.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    if (ctx.storage.writeChecked) {
      // The bytes went to the blob's own place (a temporary file beside it, renamed), and nothing under _uploads.
      expect(touchedPaths.filter((p) => p.includes('/_uploads/'))).toEqual([]);
      expect(touchedPaths).toContain(`writeChecked ${blobPaths.blobData(d)}`);
    } else {
      // S3: the upload's own object, joined in place by the service.
      expect(touchedPaths.some((p) => p.includes('/_uploads/'))).toBe(true);
    }
  });

  it('completes an empty upload as the empty blob', async () => {
    const up = await store.startUpload('c/empty');
    const empty = digestOf(Buffer.alloc(0));
    expect(await store.completeUpload('c/empty', up.id, empty)).toEqual({ digest: empty, size: 0 });
    expect((await read((await store.open('c/empty', empty)).stream)).length).toBe(0);
  });

  it('stamps what it writes for GC: uploads, puts and mounts count as references', async () => {
    const bytes = randomBytes(700);
    const d = digestOf(bytes);
    await store.putBlob('g/app', body(bytes));
    const first = (await touched(d))!;
    expect(first).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 5));
    await store.mount('g/mounted', 'g/app', d);
    expect((await touched(d))!).toBeGreaterThan(first);
    // GC that began before the mount keeps the blob.
    const r = await store.sweepBlobs([{ digest: d, unlinkFrom: ['g/app', 'g/mounted'], deleteData: true }], { olderThan: first + 1 });
    expect(r.skipped).toEqual([d]);
  });

  it('asks the quota before linking, and a refusal links nothing and ends the upload', async () => {
    const bytes = randomBytes(900);
    const d = digestOf(bytes);
    await store.putBlob('q/app', body(bytes), d);
    expect(quota.asked).toContainEqual(['q/app', { digest: d, size: 900 }]);

    expect(await code(store.putBlob('full/app', body(bytes), d))).toBe('DENIED');
    expect(await code(store.mount('full/app', 'q/app', d))).toBe('DENIED');
    const up = await store.startUpload('full/app');
    expect(await code(store.completeUpload('full/app', up.id, d, body(bytes)))).toBe('DENIED');
    expect(await code(store.uploadStatus('full/app', up.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    const fresh = randomBytes(901);
    expect(await code(store.putBlob('full/app', body(fresh)))).toBe('DENIED');
    expect(await store.stat('full/app', d)).toBeUndefined();
    expect(await store.listLinks('full/app')).toEqual([]);
    expect(await store.exists(digestOf(fresh))).toBeUndefined();
    expect(await paths(ctx.storage, 'repositories/full/app/')).toEqual([]);
  });

  it('rebuilds the blob and link indexes from storage after Redis is flushed', async () => {
    const bytes = randomBytes(5000);
    const d = digestOf(bytes);
    await store.putBlob('d/app', body(bytes), d);
    await flushEverywhere(ctx.redis);
    expect(await store.stat('d/app', d)).toBeUndefined();
    expect(await store.reindex()).toBeGreaterThanOrEqual(1);
    expect(await store.stat('d/app', d)).toEqual({ digest: d, size: bytes.length });
  });

  it('keeps manifest bytes for metadata and drops them when GC asks', async () => {
    const manifest = Buffer.from(`{"n":"${randomBytes(8).toString('hex')}"}`);
    const d = digestOf(manifest);
    await store.storeContent(d, manifest);
    expect((await store.readContent(d))!.equals(manifest)).toBe(true);
    expect(await store.exists(d)).toBeUndefined();
    // First seen: GC stamps it and keeps it this time.
    expect(await store.dropContent([d], { olderThan: 0 })).toEqual([]);
    expect(await store.dropContent([d], { olderThan: (await redisNow(ctx.redis)) + 60_000 })).toEqual([d]);
    expect(await store.readContent(d)).toBeUndefined();
  });

  it('purges old upload sessions', async () => {
    const up = await store.startUpload('f/app');
    await store.appendChunk('f/app', up.id, body(randomBytes(4096)));
    const r = await store.purgeUploads({ olderThan: Date.now() + 1000 });
    expect(r.sessions).toBeGreaterThanOrEqual(1);
    expect(await code(store.uploadStatus('f/app', up.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(await paths(ctx.storage, 'repositories/f/app/_uploads/')).toEqual([]);
  });
});
