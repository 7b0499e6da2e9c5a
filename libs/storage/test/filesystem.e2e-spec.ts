import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createStorageDriver, FilesystemDriver, InvalidPathError } from '../src';
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

  it('stores keys as plain files under the root', async () => {
    await driver.putContent('a/b/c', 'same layout as S3');
    expect(await fs.readFile(path.join(dir, 'a/b/c'), 'utf8')).toBe('same layout as S3');
  });
});
