// The upload repository against a real Redis and both storage drivers: chunks in order, resumable
// from any replica (which re-hashes the stored chunks once), checked against the digest at the end, sessions
// owned by their repository, whole-body staging, and purging of old sessions and orphaned folders.
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestOf } from '@stevedore/oci';
import { body, code, describeEachDriver, paths, read } from '../test/drivers';
import { blobPaths } from './blob-layout';
import { concatObjects } from './object-concat';
import { UploadRepository } from './upload-repository';

describeEachDriver('UploadRepository', (ctx) => {
  let uploads: UploadRepository;
  beforeAll(() => {
    uploads = new UploadRepository(ctx.storage, ctx.redis, ctx.keys);
  });

  it('takes chunks in order, refuses one off the offset, and verifies the digest with the last chunk', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const d = digestOf(bytes);
    const up = await uploads.start('c/app');
    expect(up.offset).toBe(0);
    const first = bytes.subarray(0, 1024 * 1024);
    expect((await uploads.append('c/app', up.id, body(first), { start: 0, end: first.length - 1 })).offset).toBe(first.length);
    // A chunk that does not start at the offset is refused, and the session is unchanged.
    expect(await code(uploads.append('c/app', up.id, body(Buffer.from('x')), { start: 5, end: 5 }))).toBe('RANGE_INVALID');
    expect((await uploads.status('c/app', up.id)).offset).toBe(first.length);
    const second = bytes.subarray(first.length, 2 * 1024 * 1024);
    await uploads.append('c/app', up.id, body(second), { start: first.length, end: first.length + second.length - 1 });
    const verified = await uploads.verify('c/app', up.id, d, body(bytes.subarray(2 * 1024 * 1024)));
    expect(verified.info).toEqual({ digest: d, size: bytes.length });
    // In place (filesystem): one data file the chunks were appended to; otherwise an object per chunk.
    const starts = ctx.storage.writeAt ? [0] : [0, first.length, 2 * 1024 * 1024];
    expect(verified.chunks).toEqual(starts.map((o) => blobPaths.uploadChunk('c/app', up.id, o)));
    const spans = verified.chunks.map((path, i) => ({ path, length: (starts[i + 1] ?? bytes.length) - starts[i] }));
    expect((await read(concatObjects(ctx.storage, spans))).equals(bytes)).toBe(true);
    // The session stays until the caller has placed the bytes, at the offset before the last chunk,
    // which it never saves: a completion that fails to place is retried with its body.
    expect((await uploads.status('c/app', up.id)).offset).toBe(2 * 1024 * 1024);
    await uploads.discard('c/app', up.id);
    expect(await code(uploads.status('c/app', up.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(await paths(ctx.storage, blobPaths.uploadRoot('c/app', up.id))).toEqual([]);
  });

  it('ends the session when the bytes do not match the digest', async () => {
    const up = await uploads.start('c/wrong');
    await uploads.append('c/wrong', up.id, body(randomBytes(100)));
    expect(await code(uploads.verify('c/wrong', up.id, digestOf(Buffer.from('no'))))).toBe('DIGEST_INVALID');
    expect(await code(uploads.status('c/wrong', up.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(await paths(ctx.storage, blobPaths.uploadRoot('c/wrong', up.id))).toEqual([]);
  });

  it('resumes on another replica (re-hashing the stored chunks) and back again, and checks sha512 by one read', async () => {
    const bytes = randomBytes(200_000);
    const up = await uploads.start('c/resume');
    await uploads.append('c/resume', up.id, body(bytes.subarray(0, 150_000)));
    const replica = new UploadRepository(ctx.storage, ctx.redis, ctx.keys);
    expect((await replica.status('c/resume', up.id)).offset).toBe(150_000);
    await replica.append('c/resume', up.id, body(bytes.subarray(150_000, 180_000)), { start: 150_000 });
    // Back on the first process, whose running hash stopped at 150,000: it must not be used.
    await uploads.append('c/resume', up.id, body(bytes.subarray(180_000)), { start: 180_000 });
    expect((await replica.verify('c/resume', up.id, digestOf(bytes))).info.size).toBe(bytes.length);

    const other = await uploads.start('c/resume');
    await uploads.append('c/resume', other.id, body(bytes));
    const sha512 = digestOf(bytes, 'sha512');
    expect((await replica.verify('c/resume', other.id, sha512)).info).toEqual({ digest: sha512, size: bytes.length });
  });

  it('reads back only the chunks a process missed when chunks alternate between two processes', async () => {
    const chunk = 64 * 1024;
    const bytes = randomBytes(8 * chunk);
    let bytesRead = 0;
    const counted = new Proxy(ctx.storage, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        if (prop !== 'reader') return v.bind(target);
        return async (...args: unknown[]) => {
          const stream = (await (v as (...a: unknown[]) => Promise<Readable>).apply(target, args)) as Readable;
          stream.on('data', (c: Buffer) => (bytesRead += c.length));
          return stream;
        };
      },
    });
    const a = new UploadRepository(counted, ctx.redis, ctx.keys);
    const b = new UploadRepository(counted, ctx.redis, ctx.keys);
    const up = await a.start('c/alternate');
    for (let i = 0; i < 8; i++) {
      const start = i * chunk;
      await (i % 2 ? b : a).append('c/alternate', up.id, body(bytes.subarray(start, start + chunk)), { start });
    }
    expect((await a.verify('c/alternate', up.id, digestOf(bytes))).info.size).toBe(bytes.length);
    // Each process reads what the other wrote since its own last chunk: 7 chunks in all. Re-hashing
    // everything at every chunk would read 1 + 2 + ... + 7 = 28.
    expect(bytesRead).toBe(7 * chunk);
    await a.discard('c/alternate', up.id);
  });

  it('completes without a body on another replica from the digest the session kept, reading nothing back', async () => {
    const bytes = randomBytes(400_000);
    const up = await uploads.start('c/elsewhere');
    await uploads.append('c/elsewhere', up.id, body(bytes.subarray(0, 250_000)));
    await uploads.append('c/elsewhere', up.id, body(bytes.subarray(250_000)), { start: 250_000 });
    // Another process: no running hash, and every read of storage counted.
    let reads = 0;
    const counted = new Proxy(ctx.storage, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (prop === 'reader' || prop === 'getContent') reads++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const replica = new UploadRepository(counted, ctx.redis, ctx.keys);
    expect(await code(replica.verify('c/elsewhere', up.id, digestOf(bytes.subarray(1))))).toBe('DIGEST_INVALID');
    expect(reads).toBe(0);
    const again = await uploads.start('c/elsewhere');
    await uploads.append('c/elsewhere', again.id, body(bytes));
    expect((await replica.verify('c/elsewhere', again.id, digestOf(bytes))).info).toEqual({ digest: digestOf(bytes), size: bytes.length });
    expect(reads).toBe(0);
    await replica.discard('c/elsewhere', again.id);
  });

  it('syncs appended chunks once, at completion, and re-hashes when the machine that held them unsynced went down', async () => {
    if (!ctx.storage.writeAt || ctx.storage.volatileScope === undefined) {
      // S3: each chunk is its own object, durable when its PUT returns; nothing is deferred.
      const up = await uploads.start('c/sync');
      await uploads.append('c/sync', up.id, body(randomBytes(10)));
      expect(JSON.parse((await ctx.redis.get(ctx.keys.key('upload', up.id)))!).volatileOn).toBeUndefined();
      await uploads.cancel('c/sync', up.id);
      return;
    }
    const calls: string[] = [];
    const counted = new Proxy(ctx.storage, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (prop === 'sync') calls.push('sync');
          if (prop === 'writeAt') calls.push(`writeAt durable=${(args[3] as { durable?: boolean } | undefined)?.durable}`);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const here = new UploadRepository(counted, ctx.redis, ctx.keys);
    const bytes = randomBytes(300_000);
    const up = await here.start('c/sync');
    for (let at = 0; at < bytes.length; at += 100_000)
      await here.append('c/sync', up.id, body(bytes.subarray(at, at + 100_000)), { start: at });
    const record = JSON.parse((await ctx.redis.get(ctx.keys.key('upload', up.id)))!);
    expect(record.volatileOn).toBe(ctx.storage.volatileScope);
    expect(calls).toEqual(['writeAt durable=false', 'writeAt durable=false', 'writeAt durable=false']);
    expect((await here.verify('c/sync', up.id, digestOf(bytes))).info.size).toBe(bytes.length);
    expect(calls.slice(3)).toEqual(['sync']);
    await here.discard('c/sync', up.id);

    // A session whose unsynced bytes were in another boot's page cache: the machine went down, and
    // what storage holds now (here: the same length, other bytes) is not what the session hashed.
    const lost = await here.start('c/sync');
    await here.append('c/sync', lost.id, body(bytes));
    const data = blobPaths.uploadChunk('c/sync', lost.id, 0);
    await ctx.storage.writeAt(data, 0, body(Buffer.alloc(bytes.length)));
    const key = ctx.keys.key('upload', lost.id);
    // Trusted while the page cache is this machine's (what the session kept is what the client sent)...
    const kept = JSON.parse((await ctx.redis.get(key))!);
    await ctx.redis.set(key, JSON.stringify({ ...kept, volatileOn: 'another-boot' }));
    // ...but after another boot the stored bytes are hashed again, and they no longer match.
    const replica = new UploadRepository(ctx.storage, ctx.redis, ctx.keys);
    expect(await code(replica.verify('c/sync', lost.id, digestOf(bytes)))).toBe('DIGEST_INVALID');
    expect(await paths(ctx.storage, blobPaths.uploadRoot('c/sync', lost.id))).toEqual([]);
  });

  it('drops what a chunk cut short left behind: the next chunk and the completion start at the offset', async () => {
    const bytes = randomBytes(300_000);
    const up = await uploads.start('c/cut');
    await uploads.append('c/cut', up.id, body(bytes.subarray(0, 100_000)));
    // A client that goes away mid-chunk.
    const failing = (async function* () {
      yield randomBytes(20_000);
      throw new Error('client went away');
    })();
    await expect(uploads.append('c/cut', up.id, Readable.from(failing))).rejects.toThrow('client went away');
    expect((await uploads.status('c/cut', up.id)).offset).toBe(100_000);
    await uploads.append('c/cut', up.id, body(bytes.subarray(100_000, 200_000)), { start: 100_000 });
    if (ctx.storage.writeAt) {
      // A process killed mid-chunk: bytes past the session's offset, and no running hash anywhere.
      await ctx.storage.writeAt(blobPaths.uploadChunk('c/cut', up.id, 0), 200_000, body(randomBytes(5000)));
    }
    const fresh = new UploadRepository(ctx.storage, ctx.redis, ctx.keys);
    const verified = await fresh.verify('c/cut', up.id, digestOf(bytes), body(bytes.subarray(200_000)));
    expect(verified.info).toEqual({ digest: digestOf(bytes), size: bytes.length });
    const stored = Buffer.concat(await Promise.all(verified.chunks.map((c) => ctx.storage.getContent(c))));
    expect(stored.equals(bytes)).toBe(true);
    await fresh.discard('c/cut', up.id);
  });

  it('refuses a chunk whose length is not what was declared, and leaves nothing of it', async () => {
    const up = await uploads.start('c/size');
    expect(await code(uploads.append('c/size', up.id, body(randomBytes(10)), undefined, 11))).toBe('SIZE_INVALID');
    expect(await code(uploads.append('c/size', up.id, body(randomBytes(10)), { start: 0, end: 9 }, 11))).toBe('RANGE_INVALID');
    expect(await code(uploads.append('c/size', up.id, body(randomBytes(10)), { start: 0, end: 10 }))).toBe('SIZE_INVALID');
    // An empty chunk neither advances the session nor leaves an object.
    expect((await uploads.append('c/size', up.id, body(Buffer.alloc(0)))).offset).toBe(0);
    expect(await paths(ctx.storage, blobPaths.uploadRoot('c/size', up.id))).toEqual([]);
  });

  it('keeps a session to its repository, refuses ids it never made, and cancels with the storage folder', async () => {
    const up = await uploads.start('c/own');
    await uploads.append('c/own', up.id, body(randomBytes(10)));
    expect(await code(uploads.status('c/elsewhere', up.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(await code(uploads.status('c/own', '../../x'))).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(await code(uploads.status('c/own', randomUUID()))).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(await code(uploads.cancel('c/elsewhere', up.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    await uploads.cancel('c/own', up.id);
    expect(await code(uploads.status('c/own', up.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(await paths(ctx.storage, blobPaths.uploadRoot('c/own', up.id))).toEqual([]);
  });

  it('stages a whole body under a temporary upload and removes it afterwards, also when the use fails', async () => {
    const bytes = randomBytes(5000);
    let stagedAt = '';
    const size = await uploads.stage('s/app', body(bytes), bytes.length, async (staged) => {
      expect(staged.info).toEqual({ digest: digestOf(bytes), size: bytes.length });
      stagedAt = staged.chunks[0];
      expect((await ctx.storage.getContent(stagedAt)).equals(bytes)).toBe(true);
      return staged.info.size;
    });
    expect(size).toBe(bytes.length);
    expect(await ctx.storage.stat(stagedAt)).toBeUndefined();
    await expect(
      uploads.stage('s/app', body(bytes), undefined, async (staged) => {
        stagedAt = staged.chunks[0];
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await paths(ctx.storage, 'repositories/s/app/_uploads/')).toEqual([]);
  });

  it('purges sessions started before the cutoff and orphaned folders, and a dry run only counts them', async () => {
    const old = await uploads.start('f/app');
    await uploads.append('f/app', old.id, body(randomBytes(4096)));
    // A folder without a session (Redis lost it, or the process died before saving it).
    const orphan = randomUUID();
    await ctx.storage.putContent(blobPaths.uploadChunk('f/app', orphan, 0), randomBytes(1000));
    await ctx.storage.putContent(blobPaths.uploadStartedAt('f/app', orphan), 'then');
    const cutoff = Date.now() + 1000;
    await new Promise((r) => setTimeout(r, 1100));
    const young = await uploads.start('f/app');

    const dry = await uploads.purge({ olderThan: cutoff, dryRun: true });
    expect(dry.sessions).toBeGreaterThanOrEqual(2);
    expect(dry.bytes).toBeGreaterThanOrEqual(5096);
    expect((await uploads.status('f/app', old.id)).offset).toBe(4096);
    expect(await ctx.storage.stat(blobPaths.uploadChunk('f/app', orphan, 0))).toBeDefined();

    const r = await uploads.purge({ olderThan: cutoff });
    expect(r).toEqual(dry);
    expect(await code(uploads.status('f/app', old.id))).toBe('BLOB_UPLOAD_UNKNOWN');
    expect((await uploads.status('f/app', young.id)).offset).toBe(0);
    // The young session is kept (it has nothing in storage yet: a session starts in Redis only).
    expect(await paths(ctx.storage, 'repositories/f/app/_uploads/')).toEqual([]);
    await uploads.append('f/app', young.id, body(randomBytes(10)));
    expect((await uploads.status('f/app', young.id)).offset).toBe(10);
  });
});
