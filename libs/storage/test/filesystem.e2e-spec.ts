import { randomBytes } from 'node:crypto';
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createStorageDriver, FilesystemDriver, InvalidPathError, PathNotFoundError } from '../src';
import { describeStorageDriverContract } from './storage-driver.contract';

jest.setTimeout(60_000);

const root = mkdtempSync(path.join(os.tmpdir(), 'storage-fs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describeStorageDriverContract('filesystem', () => createStorageDriver({ kind: 'filesystem', root: path.join(root, 'contract') }), {
  presign: false,
  bulkDeleteCount: 1100,
});

describe('FilesystemDriver specifics', () => {
  let dir: string;
  let driver: FilesystemDriver;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(root, 'fs-'));
    driver = new FilesystemDriver(dir);
  });

  it('keeps multipart parts and temp files out of the key space', async () => {
    const id = await driver.createMultipart('blobs/x');
    await driver.putPart('blobs/x', id, 1, Readable.from([Buffer.from('abc')]), 3);
    expect(await fs.readdir(path.join(dir, '_multipart', id))).toEqual(expect.arrayContaining(['key', 'part-00001']));
    const listed: string[] = [];
    for await (const f of driver.list('')) listed.push(f.path);
    expect(listed).toEqual([]);
    await expect(driver.putContent('_multipart/evil', 'x')).rejects.toBeInstanceOf(InvalidPathError);
    await expect(driver.putContent('a/.tmp-1234', 'x')).rejects.toBeInstanceOf(InvalidPathError);
    // Only the root's _multipart is reserved.
    await driver.putContent('a/_multipart', 'fine');
    expect((await driver.getContent('a/_multipart')).toString()).toBe('fine');
  });

  it('never shows a temp file a crashed write left behind, and leaves no empty directories after deletes', async () => {
    await fs.mkdir(path.join(dir, 'repo'), { recursive: true });
    await fs.writeFile(path.join(dir, 'repo', '.tmp-crashed'), 'partial');
    const listed: string[] = [];
    for await (const f of driver.list('repo/')) listed.push(f.path);
    expect(listed).toEqual([]);
    await driver.putContent('x/y/z', '1');
    await driver.delete('x/y/z');
    expect(await fs.readdir(dir)).toEqual(['repo']);
  });

  it('reads whole files of any size with getContent, and answers a directory or a missing key as not found', async () => {
    for (const size of [0, 1, 511, 64 * 1024, 64 * 1024 + 1, 1024 * 1024 + 3]) {
      const bytes = randomBytes(size);
      await fs.mkdir(path.join(dir, 'sizes'), { recursive: true });
      await fs.writeFile(path.join(dir, 'sizes', String(size)), bytes);
      expect((await driver.getContent(`sizes/${size}`)).equals(bytes)).toBe(true);
    }
    await expect(driver.getContent('sizes')).rejects.toBeInstanceOf(PathNotFoundError);
    await expect(driver.getContent('sizes/none')).rejects.toBeInstanceOf(PathNotFoundError);
    await expect(driver.getContent('../escape')).rejects.toBeInstanceOf(InvalidPathError);
    // Every descriptor is closed again: 200 reads leave the process's count where it was.
    const open = async () => (await fs.readdir('/proc/self/fd')).length;
    const before = await open();
    await Promise.all(Array.from({ length: 200 }, (_, i) => driver.getContent(`sizes/${i % 2 ? 511 : 0}`)));
    await Promise.all(Array.from({ length: 50 }, () => driver.getContent('sizes').catch(() => undefined)));
    expect(await open()).toBeLessThanOrEqual(before);
  });

  it('stores keys as plain files under the root', async () => {
    await driver.putContent('a/b/c', 'same layout as S3');
    expect(await fs.readFile(path.join(dir, 'a/b/c'), 'utf8')).toBe('same layout as S3');
  });
});
