import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { extractTar, packPath, safeEntryName } from './tar-fs';

async function tarOf(
  entries: Array<{ name: string; body?: string; type?: 'file' | 'directory' | 'symlink'; linkname?: string }>,
): Promise<Readable> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname }, e.body ?? '');
  pack.finalize();
  // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Readable types.
  return pack as unknown as Readable;
}

describe('cp tar streams', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-tar-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('packs a directory under a new name and extracts it back', async () => {
    const src = path.join(dir, 'site');
    mkdirSync(path.join(src, 'css'), { recursive: true });
    writeFileSync(path.join(src, 'index.html'), '<h1>hi</h1>');
    writeFileSync(path.join(src, 'css', 'a.css'), 'b{}', { mode: 0o600 });
    symlinkSync('index.html', path.join(src, 'home.html'));
    const out = path.join(dir, 'out');
    mkdirSync(out);
    expect(await extractTar(packPath(src, 'html'), out)).toBe(5);
    expect(readFileSync(path.join(out, 'html', 'index.html'), 'utf8')).toBe('<h1>hi</h1>');
    expect(readFileSync(path.join(out, 'html', 'css', 'a.css'), 'utf8')).toBe('b{}');
    expect(statSync(path.join(out, 'html', 'css', 'a.css')).mode & 0o777).toBe(0o600);
    expect(readlinkSync(path.join(out, 'html', 'home.html'))).toBe('index.html');
  });

  it('renames the top entry (cp NAME:/etc/hosts ./h)', async () => {
    await extractTar(await tarOf([{ name: 'hosts', body: '127.0.0.1 x' }]), dir, 'h');
    expect(readFileSync(path.join(dir, 'h'), 'utf8')).toBe('127.0.0.1 x');
    await extractTar(
      await tarOf([
        { name: 'etc', type: 'directory' },
        { name: 'etc/a', body: 'A' },
      ]),
      dir,
      'copy',
    );
    expect(readFileSync(path.join(dir, 'copy', 'a'), 'utf8')).toBe('A');
  });

  it('refuses names that escape the destination', async () => {
    expect(() => safeEntryName('../x')).toThrow(/unsafe/);
    expect(() => safeEntryName('/etc/passwd')).toThrow(/unsafe/);
    expect(safeEntryName('./a/b/')).toBe('a/b');
    await expect(extractTar(await tarOf([{ name: 'a/../../evil', body: 'x' }]), path.join(dir, 'd'))).rejects.toThrow(/unsafe/);
    expect(existsSync(path.join(dir, 'evil'))).toBe(false);
  });
});
