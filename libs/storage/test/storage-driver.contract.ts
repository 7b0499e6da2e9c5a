// The one behaviour every StorageDriver must show, run against each driver by its e2e spec (as
// distribution's driver/testsuites): what the registry relies on, not what a backend happens to do.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { InvalidPathError, PathNotFoundError, type StorageDriver } from '../src';

export interface ContractOptions {
  /** How many keys the bulk-delete test writes (S3 is slower per object). */
  bulkDeleteCount?: number;
  /** Does the backend hand out URLs (S3) or not (filesystem)? */
  presign: boolean;
  /** Called after the suite, e.g. to remove a bucket. */
  cleanup?: () => Promise<void>;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

async function keys(driver: StorageDriver, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const f of driver.list(prefix)) out.push(f.path);
  return out.sort();
}

async function uploads(driver: StorageDriver, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const u of driver.listMultipart(prefix)) out.push(u.uploadId);
  return out;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const MiB = 1024 * 1024;

/** Yields `data` in 64 KiB chunks, pausing `pauseMs` before the last one. */
function slowSource(data: Buffer, pauseMs = 0): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < data.length; i += 64 * 1024) {
        if (pauseMs && i + 64 * 1024 >= data.length) await new Promise((r) => setTimeout(r, pauseMs));
        yield data.subarray(i, i + 64 * 1024);
      }
    })(),
  );
}

export function describeStorageDriverContract(name: string, makeDriver: () => Promise<StorageDriver>, options: ContractOptions): void {
  describe(`StorageDriver contract: ${name}`, () => {
    let driver: StorageDriver;
    // Each test works under its own prefix, so tests never see each other's objects.
    let n = 0;
    let p: string;

    beforeAll(async () => {
      driver = await makeDriver();
    });
    beforeEach(() => {
      p = `c${++n}-${randomBytes(3).toString('hex')}/`;
    });
    afterAll(async () => {
      await options.cleanup?.();
      await driver?.close?.();
    });

    it('puts and gets small objects, overwriting atomically', async () => {
      await driver.putContent(`${p}a`, 'hello');
      expect((await driver.getContent(`${p}a`)).toString()).toBe('hello');
      await driver.putContent(`${p}a`, Buffer.from('second'));
      expect((await driver.getContent(`${p}a`)).toString()).toBe('second');
      await driver.putContent(`${p}empty`, '');
      expect((await driver.getContent(`${p}empty`)).length).toBe(0);
      const st = await driver.stat(`${p}a`);
      expect(st).toMatchObject({ path: `${p}a`, size: 6 });
      // Not toBeInstanceOf(Date): Node's fs makes its Dates outside Jest's sandbox realm.
      expect(Object.prototype.toString.call(st!.modTime)).toBe('[object Date]');
      expect(Math.abs(st!.modTime.getTime() - Date.now())).toBeLessThan(5 * 60_000);
    });

    it('reports missing objects: stat undefined, reads PathNotFoundError', async () => {
      expect(await driver.stat(`${p}missing`)).toBeUndefined();
      await expect(driver.getContent(`${p}missing`)).rejects.toBeInstanceOf(PathNotFoundError);
      await expect(driver.reader(`${p}missing`)).rejects.toBeInstanceOf(PathNotFoundError);
      await expect(driver.reader(`${p}missing`, { offset: 3 })).rejects.toBeInstanceOf(PathNotFoundError);
      // A prefix of other keys is not an object.
      await driver.putContent(`${p}dir/child`, 'x');
      expect(await driver.stat(`${p}dir`)).toBeUndefined();
      await expect(driver.getContent(`${p}dir`)).rejects.toBeInstanceOf(PathNotFoundError);
    });

    it('reads byte ranges: offset, offset + length, length from 0, to the end', async () => {
      const data = Buffer.from('0123456789abcdefghij');
      await driver.putContent(`${p}r`, data);
      expect((await readAll(await driver.reader(`${p}r`))).toString()).toBe(data.toString());
      expect((await readAll(await driver.reader(`${p}r`, { offset: 10 }))).toString()).toBe('abcdefghij');
      expect((await readAll(await driver.reader(`${p}r`, { offset: 3, length: 4 }))).toString()).toBe('3456');
      expect((await readAll(await driver.reader(`${p}r`, { length: 2 }))).toString()).toBe('01');
      expect((await readAll(await driver.reader(`${p}r`, { offset: 19, length: 1 }))).toString()).toBe('j');
      expect((await readAll(await driver.reader(`${p}r`, { offset: 5, length: 0 }))).length).toBe(0);
    });

    it('streams a multi-MB object in and out, with and without a size hint', async () => {
      const data = randomBytes(12 * MiB + 12345);
      expect(await driver.writeStream(`${p}big`, slowSource(data), data.length)).toBe(data.length);
      expect(sha(await readAll(await driver.reader(`${p}big`)))).toBe(sha(data));
      expect(await driver.writeStream(`${p}big2`, slowSource(data))).toBe(data.length);
      expect((await driver.stat(`${p}big2`))!.size).toBe(data.length);
      expect(sha(await readAll(await driver.reader(`${p}big2`, { offset: 9 * MiB })))).toBe(sha(data.subarray(9 * MiB)));
      expect(await driver.writeStream(`${p}zero`, Readable.from([]))).toBe(0);
      expect(await driver.stat(`${p}zero`)).toMatchObject({ size: 0 });
    });

    it('shows nothing of an object while it is being written', async () => {
      const src = new PassThrough();
      const done = driver.writeStream(`${p}slow`, src);
      src.write(randomBytes(256 * 1024));
      await new Promise((r) => setTimeout(r, 300));
      expect(await driver.stat(`${p}slow`)).toBeUndefined();
      expect(await keys(driver, p)).toEqual([]);
      src.end(randomBytes(1000));
      expect(await done).toBe(256 * 1024 + 1000);
      expect(await driver.stat(`${p}slow`)).toMatchObject({ size: 256 * 1024 + 1000 });
    });

    it('keeps one whole object when two writers race on one key', async () => {
      const a = randomBytes(9 * MiB);
      const b = randomBytes(9 * MiB);
      await Promise.all([driver.writeStream(`${p}same`, slowSource(a)), driver.writeStream(`${p}same`, slowSource(b))]);
      expect([sha(a), sha(b)]).toContain(sha(await driver.getContent(`${p}same`)));
    });

    it('a failed source leaves nothing behind', async () => {
      const failing = Readable.from(
        (async function* () {
          yield randomBytes(1000);
          throw new Error('client went away');
        })(),
      );
      await expect(driver.writeStream(`${p}broken`, failing)).rejects.toThrow('client went away');
      expect(await driver.stat(`${p}broken`)).toBeUndefined();
      expect(await keys(driver, p)).toEqual([]);
    });

    it('lists recursively by prefix, with sizes', async () => {
      for (const k of ['a/b/c', 'a/b/d/e', 'a/bc', 'a/x/y', 'z']) await driver.putContent(`${p}${k}`, k);
      expect(await keys(driver, `${p}a/b/`)).toEqual([`${p}a/b/c`, `${p}a/b/d/e`]);
      expect(await keys(driver, `${p}a/b`)).toEqual([`${p}a/b/c`, `${p}a/b/d/e`, `${p}a/bc`]);
      expect(await keys(driver, p)).toEqual(['a/b/c', 'a/b/d/e', 'a/bc', 'a/x/y', 'z'].map((k) => `${p}${k}`));
      expect(await keys(driver, `${p}nothing/`)).toEqual([]);
      const infos: Array<{ path: string; size: number }> = [];
      for await (const f of driver.list(`${p}a/b/d`)) infos.push(f);
      expect(infos).toEqual([expect.objectContaining({ path: `${p}a/b/d/e`, size: 7 })]);
    });

    it('deletes one object, a missing one quietly, and many in batches', async () => {
      await driver.putContent(`${p}one`, '1');
      await driver.delete(`${p}one`);
      expect(await driver.stat(`${p}one`)).toBeUndefined();
      await driver.delete(`${p}one`);
      const count = options.bulkDeleteCount ?? 1100;
      const many = Array.from({ length: count }, (_, i) => `${p}many/${i % 7}/${i}`);
      for (let i = 0; i < many.length; i += 50) await Promise.all(many.slice(i, i + 50).map((k) => driver.putContent(k, 'x')));
      await driver.putContent(`${p}keep`, 'k');
      expect((await keys(driver, `${p}many/`)).length).toBe(count);
      await driver.deleteMany([...many, `${p}never-existed`]);
      expect(await keys(driver, p)).toEqual([`${p}keep`]);
      await driver.deleteMany([]);
    });

    it('writes beside deletes that empty the shared prefix: every write lands', async () => {
      // The gateway writes one upload while it deletes another's under the same parent: a
      // filesystem driver that prunes emptied directories must not pull one out from under a write.
      const rounds = options.bulkDeleteCount && options.bulkDeleteCount < 500 ? 40 : 400;
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < rounds / 8; i++) {
            const k = `${p}shared/${w}-${i}/data`;
            const body = `${w}-${i}`;
            const how = i % 3;
            if (how === 0) await driver.putContent(k, body);
            else if (how === 1) await driver.writeStream(k, Readable.from([Buffer.from(body)]));
            else if (driver.writeAt) await driver.writeAt(k, 0, Readable.from([Buffer.from(body)]));
            else await driver.putContent(k, body);
            expect((await driver.getContent(k)).toString()).toBe(body);
            await driver.delete(k);
          }
        }),
      );
      expect(await keys(driver, `${p}shared/`)).toEqual([]);
    });

    it('deletes by prefix and nothing outside it', async () => {
      for (const k of ['r/a', 'r/b/c', 'r/b/d', 'rx', 'other/r/a']) await driver.putContent(`${p}${k}`, k);
      await driver.deletePrefix(`${p}r/`);
      expect(await keys(driver, p)).toEqual([`${p}other/r/a`, `${p}rx`]);
      await driver.deletePrefix(`${p}nothing/`);
    });

    it('moves and copies objects', async () => {
      await driver.putContent(`${p}from`, 'payload');
      await driver.copy(`${p}from`, `${p}copies/one`);
      expect((await driver.getContent(`${p}copies/one`)).toString()).toBe('payload');
      expect((await driver.getContent(`${p}from`)).toString()).toBe('payload');
      await driver.putContent(`${p}to/existing`, 'old');
      await driver.move(`${p}from`, `${p}to/existing`);
      expect((await driver.getContent(`${p}to/existing`)).toString()).toBe('payload');
      expect(await driver.stat(`${p}from`)).toBeUndefined();
      await expect(driver.move(`${p}from`, `${p}elsewhere`)).rejects.toBeInstanceOf(PathNotFoundError);
      await expect(driver.copy(`${p}from`, `${p}elsewhere`)).rejects.toBeInstanceOf(PathNotFoundError);
      expect(await driver.stat(`${p}elsewhere`)).toBeUndefined();
    });

    it('concatenates objects in order, server-side where parts allow, and refuses a missing source', async () => {
      // Big enough for S3's UploadPartCopy (every source but the last >= 5 MiB), then small pieces,
      // which S3 must stream instead.
      const big = [randomBytes(5 * MiB), randomBytes(5 * MiB + 7), randomBytes(1000)];
      const small = [randomBytes(10), randomBytes(64 * 1024), randomBytes(3)];
      for (const [label, bodies] of [
        ['big', big],
        ['small', small],
      ] as const) {
        const sources = bodies.map((_, i) => `${p}${label}/part${i}`);
        for (const [i, b] of bodies.entries()) await driver.writeStream(sources[i], Readable.from([b]));
        await driver.concat(sources, `${p}${label}/joined`);
        const joined = await driver.getContent(`${p}${label}/joined`);
        expect(joined.length).toBe(bodies.reduce((n, b) => n + b.length, 0));
        expect(sha(joined)).toBe(sha(Buffer.concat(bodies)));
        expect((await driver.getContent(sources[0])).length).toBe(bodies[0].length);
      }
      await expect(driver.concat([`${p}small/part0`, `${p}nope`], `${p}never`)).rejects.toBeInstanceOf(PathNotFoundError);
      expect(await driver.stat(`${p}never`)).toBeUndefined();
    });

    it('writes a checked object beside its place and puts it there only when the check passes, where the driver can', async () => {
      if (!driver.writeChecked) {
        expect(driver.name).toBe('s3');
        return;
      }
      const key = `${p}checked/data`;
      const old = randomBytes(1000);
      await driver.putContent(key, old);
      const refused = randomBytes(5000);
      let seen = -1;
      await expect(
        driver.writeChecked(key, Readable.from([refused]), async (bytes) => {
          seen = bytes;
          // The bytes are written by now, but nowhere a reader looks.
          expect(sha(await driver.getContent(key))).toBe(sha(old));
          throw new Error('digest mismatch');
        }),
      ).rejects.toThrow('digest mismatch');
      expect(seen).toBe(refused.length);
      expect(sha(await driver.getContent(key))).toBe(sha(old));
      expect(await keys(driver, `${p}checked/`)).toEqual([key]);
      const accepted = randomBytes(7000);
      expect(await driver.writeChecked(key, Readable.from([accepted]), async () => undefined)).toBe(accepted.length);
      expect(sha(await driver.getContent(key))).toBe(sha(accepted));
      expect(await keys(driver, `${p}checked/`)).toEqual([key]);
    });

    it('writes in place from an offset, cutting off what lay beyond, where the driver can', async () => {
      if (!driver.writeAt) {
        expect(driver.name).toBe('s3');
        return;
      }
      const key = `${p}inplace/data`;
      const a = randomBytes(100_000);
      const b = randomBytes(3000);
      expect(await driver.writeAt(key, 0, Readable.from([a]))).toBe(a.length);
      expect(await driver.writeAt(key, a.length, Readable.from([b]))).toBe(b.length);
      expect(sha(await driver.getContent(key))).toBe(sha(Buffer.concat([a, b])));
      // A retried chunk from an earlier offset replaces the tail.
      const c = randomBytes(10);
      expect(await driver.writeAt(key, 50_000, Readable.from([c]))).toBe(c.length);
      expect(sha(await driver.getContent(key))).toBe(sha(Buffer.concat([a.subarray(0, 50_000), c])));
      // A failing source leaves the object at its offset.
      const failing = Readable.from(
        (async function* () {
          yield randomBytes(4096);
          throw new Error('client went away');
        })(),
      );
      await expect(driver.writeAt(key, 50_010, failing)).rejects.toThrow('client went away');
      expect((await driver.stat(key))?.size).toBe(50_010);
      // Past the end, or on a missing object, is refused.
      await expect(driver.writeAt(key, 60_000, Readable.from([c]))).rejects.toBeInstanceOf(PathNotFoundError);
      await expect(driver.writeAt(`${p}inplace/none`, 5, Readable.from([c]))).rejects.toBeInstanceOf(PathNotFoundError);
      await expect(driver.writeAt('../escape', 0, Readable.from([c]))).rejects.toBeInstanceOf(InvalidPathError);
      // Without an fsync each (durable: false), synced once afterwards: the same bytes.
      const d = randomBytes(5000);
      expect(await driver.writeAt(key, 50_010, Readable.from([d]), { durable: false })).toBe(d.length);
      await driver.sync!(key);
      expect(sha(await driver.getContent(key))).toBe(sha(Buffer.concat([a.subarray(0, 50_000), c, d])));
      await expect(driver.sync!(`${p}inplace/none`)).rejects.toBeInstanceOf(PathNotFoundError);
      // The page cache those writes may wait in is this boot's.
      expect(driver.volatileScope).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    });

    it('joins multipart uploads in part order, visible only when complete', async () => {
      const partSize = Math.max(driver.minPartSize, 64 * 1024);
      const bodies = [randomBytes(partSize), randomBytes(partSize), randomBytes(1234)];
      const key = `${p}mp/blob`;
      const id = await driver.createMultipart(key);
      expect(await uploads(driver, `${p}mp/`)).toContain(id);
      // Out of order on purpose: resumable uploads may retry a part.
      const parts = [];
      for (const i of [1, 0, 2]) parts.push(await driver.putPart(key, id, i + 1, Readable.from([bodies[i]]), bodies[i].length));
      expect(parts.map((x) => x.size)).toEqual([bodies[1].length, bodies[0].length, bodies[2].length]);
      expect(await driver.stat(key)).toBeUndefined();
      expect(await keys(driver, p)).toEqual([]);
      await driver.completeMultipart(key, id, parts);
      const whole = Buffer.concat(bodies);
      expect(await driver.stat(key)).toMatchObject({ size: whole.length });
      expect(sha(await driver.getContent(key))).toBe(sha(whole));
      expect(await uploads(driver, `${p}mp/`)).toEqual([]);
    });

    it('aborts multipart uploads and lists only those under a prefix', async () => {
      const a = await driver.createMultipart(`${p}up/a`);
      const b = await driver.createMultipart(`${p}other/b`);
      await driver.putPart(`${p}up/a`, a, 1, Readable.from([Buffer.from('part')]), 4);
      const listed: Array<{ path: string; uploadId: string; initiated: Date }> = [];
      for await (const u of driver.listMultipart(`${p}up/`)) listed.push(u);
      expect(listed.map(({ path, uploadId }) => ({ path, uploadId }))).toEqual([{ path: `${p}up/a`, uploadId: a }]);
      expect(Math.abs(listed[0].initiated.getTime() - Date.now())).toBeLessThan(5 * 60_000);
      await driver.abortMultipart(`${p}up/a`, a);
      await driver.abortMultipart(`${p}other/b`, b);
      expect(await uploads(driver, p)).toEqual([]);
      expect(await driver.stat(`${p}up/a`)).toBeUndefined();
      await expect(driver.completeMultipart(`${p}up/a`, a, [{ partNumber: 1, etag: 'x', size: 4 }])).rejects.toThrow();
    });

    it.each(['../x', '/abs', 'a//b', 'a\\b', 'a/../b', 'a/./b', '', 'trailing/'])('rejects the key %j', async (bad) => {
      await expect(driver.stat(bad)).rejects.toBeInstanceOf(InvalidPathError);
      await expect(driver.putContent(bad, 'x')).rejects.toBeInstanceOf(InvalidPathError);
      await expect(driver.getContent(bad)).rejects.toBeInstanceOf(InvalidPathError);
      await expect(driver.writeStream(bad, Readable.from([Buffer.from('x')]))).rejects.toBeInstanceOf(InvalidPathError);
      await expect(driver.delete(bad)).rejects.toBeInstanceOf(InvalidPathError);
      await expect(driver.createMultipart(bad)).rejects.toBeInstanceOf(InvalidPathError);
    });

    it(options.presign ? 'presigns a GET URL that honours Range' : 'does not presign', async () => {
      await driver.putContent(`${p}signed`, '0123456789');
      const url = await driver.presign(`${p}signed`, { method: 'GET', expirySeconds: 60 });
      if (!options.presign) {
        expect(url).toBeUndefined();
        return;
      }
      const res = await fetch(url!, { headers: { Range: 'bytes=2-5' } });
      expect(res.status).toBe(206);
      expect(await res.text()).toBe('2345');
      const head = await fetch((await driver.presign(`${p}signed`, { method: 'HEAD', expirySeconds: 60 }))!, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe('10');
    });
  });
}
