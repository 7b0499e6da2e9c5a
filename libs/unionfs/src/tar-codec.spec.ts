import { Readable } from 'node:stream';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createGzip, gunzipSync, gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { digestOf } from '@stevedore/oci';
import { MemoryContentStore } from './content-store';
import { layerOf, type Layer } from './entry';
import { readLayer } from './read-layer';
import { UnsafeTarError } from './unsafe-tar-error';
import { tarHeader, writeLayer } from './write-layer';
import { collect, dir, file, node, rawTar, sym, wh } from '../test/helpers';

/** A gzip'd tar of one file of `size` zeros (a decompression bomb, ~1000:1). */
async function zerosTarGz(size: number): Promise<Buffer> {
  const pack = tar.pack();
  const gz = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gz.on('data', (c: Buffer) => chunks.push(c));
  const done = once(gz, 'end');
  pack.pipe(gz);
  const entry = pack.entry({ name: 'zeros', size });
  const zero = Buffer.alloc(1 << 20);
  for (let left = size; left > 0; left -= zero.length) {
    if (!entry.write(zero.subarray(0, Math.min(left, zero.length)))) await once(entry, 'drain');
  }
  // Cast: streamx types give end() a required chunk; ending without one is what the stream expects.
  (entry as unknown as { end(): void }).end();
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function sample(store: MemoryContentStore): Promise<Layer> {
  return layerOf([
    dir('etc', { mtime: 1000 }),
    await file(store, 'etc/passwd', 'root:x:0:0\n', { mode: 0o600, uid: 0, mtime: 2000 }),
    await file(store, 'etc/empty', '', { mtime: 2000 }),
    sym('etc/pw', 'passwd'),
    node('etc/pw2', 'hardlink', { linkname: 'etc/passwd' }),
    node('dev/null', 'char-device', { devmajor: 1, devminor: 3 }),
    node('dev/sda', 'block-device', { devmajor: 8, devminor: 0 }),
    node('run/fifo', 'fifo'),
    dir('var', { opaque: true, xattrs: { 'user.note': 'kept', 'security.capability': 'cap' } }),
    wh('usr/old'),
  ]);
}

async function write(layer: Layer, store: MemoryContentStore, opts: Partial<Parameters<typeof writeLayer>[2]> = {}) {
  const { sink, bytes } = collect();
  const result = await writeLayer(layer, sink, { contentStore: store, ...opts });
  return { result, bytes: bytes() };
}

// The sample holds device files: reading them back is an admin's (or a stored image's) read.
const readBytes = (bytes: Buffer, store: MemoryContentStore, opts = {}) =>
  readLayer(Readable.from([bytes]), { contentStore: store, allowDevices: true, ...opts });

async function unsafeReason(items: Parameters<typeof rawTar>[0], limits = {}): Promise<string | undefined> {
  try {
    await readLayer(await rawTar(items), { contentStore: new MemoryContentStore(), limits });
  } catch (e) {
    if (e instanceof UnsafeTarError) return e.reason;
    throw e;
  }
  return undefined;
}

describe('tar codec', () => {
  it('round-trips every entry type, whiteouts and xattrs, gzip and plain', async () => {
    const store = new MemoryContentStore();
    const layer = await sample(store);
    for (const compression of ['gzip', 'none'] as const) {
      const { result, bytes } = await write(layer, store, { compression });
      expect(result.digest).toBe(digestOf(bytes));
      expect(result.size).toBe(bytes.length);
      const tarBytes = compression === 'gzip' ? gunzipSync(bytes) : bytes;
      expect(result.diffId).toBe(digestOf(tarBytes));
      expect(result.uncompressedSize).toBe(tarBytes.length);
      expect(result.mediaType).toMatch(compression === 'gzip' ? /\+gzip$/ : /\.tar$/);
      const back = await readBytes(bytes, store);
      expect(back).toMatchObject({ digest: result.digest, diffId: result.diffId, size: bytes.length, compression });
      expect(back.layer.entries).toEqual(layer.entries);
    }
    expect(store.get(digestOf('root:x:0:0\n'))?.toString()).toBe('root:x:0:0\n');
  });

  it('is deterministic, and normalises ownership and clamps times when asked', async () => {
    const store = new MemoryContentStore();
    const layer = await sample(store);
    const a = await write(layer, store);
    const b = await write(layerOf([...layer.entries].reverse()), store);
    expect(b.bytes.equals(a.bytes)).toBe(true);
    expect(b.result.digest).toBe(a.result.digest);
    // gzip header: no mtime, no name
    expect(a.bytes.readUInt32LE(4)).toBe(0);
    expect(a.bytes[3] & 0x08).toBe(0);

    const n = await write(layer, store, { normalize: { uid: 0, gid: 0, mtime: 1500 } });
    const back = await readBytes(n.bytes, store);
    const passwd = back.layer.entries.find((e) => e.path === 'etc/passwd')!;
    expect(passwd).toMatchObject({ mtime: 1500, uid: 0 });
    expect(back.layer.entries.find((e) => e.path === 'etc')!.mtime).toBe(1000);
  });

  it('writes whiteouts in the AUFS form', async () => {
    const store = new MemoryContentStore();
    const { bytes } = await write(layerOf([wh('a/b'), dir('c', { opaque: true })]), store, { compression: 'none' });
    const text = bytes.toString('latin1');
    expect(text).toContain('a/.wh.b');
    expect(text).toContain('c/.wh..wh..opq');
    expect(() => tarHeader(wh('x'))).toThrow(/converted/);
  });

  it('reads overlay-form whiteouts when asked, drops the root entry, accepts identical duplicates', async () => {
    const tarStream = await rawTar([
      { header: { name: './', type: 'directory' } },
      { header: { name: 'gone', type: 'character-device', devmajor: 0, devminor: 0 } },
      { header: { name: 'o/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } } as never },
      { header: { name: 'f', type: 'file', mode: 0o644 }, body: 'hi' },
      { header: { name: 'f', type: 'file', mode: 0o644 }, body: 'hi' },
    ]);
    const { layer } = await readLayer(tarStream, { contentStore: new MemoryContentStore(), overlayWhiteouts: true });
    expect(layer.entries.map((e) => `${e.path}:${e.type}${e.opaque ? ':opaque' : ''}`)).toEqual([
      'f:file',
      'gone:whiteout',
      'o:directory:opaque',
    ]);
  });

  it('refuses unsafe entries, each with its reason', async () => {
    expect(await unsafeReason([{ header: { name: '/etc/passwd' }, body: 'x' }])).toBe('absolute-path');
    expect(await unsafeReason([{ header: { name: 'a/../../etc/passwd' }, body: 'x' }])).toBe('parent-traversal');
    expect(await unsafeReason([{ header: { name: 'a/l', type: 'symlink', linkname: '../../etc' } }])).toBe('symlink-escape');
    expect(
      await unsafeReason([{ header: { name: 'l', type: 'symlink', linkname: '/etc' } }, { header: { name: 'l/passwd' }, body: 'x' }]),
    ).toBe('through-symlink');
    expect(await unsafeReason([{ header: { name: 'h', type: 'link', linkname: '../etc/passwd' } }])).toBe('hardlink-escape');
    expect(await unsafeReason([{ header: { name: 'h', type: 'link', linkname: '/etc/passwd' } }])).toBe('hardlink-escape');
    expect(
      await unsafeReason([
        { header: { name: 'l', type: 'symlink', linkname: '/etc' } },
        { header: { name: 'h', type: 'link', linkname: 'l/shadow' } },
      ]),
    ).toBe('hardlink-escape');
    expect(
      await unsafeReason([
        { header: { name: 'f' }, body: 'a' },
        { header: { name: 'f' }, body: 'b' },
      ]),
    ).toBe('duplicate-entry');
    expect(await unsafeReason([{ header: { name: 'f' }, body: 'abc' }], { maxEntrySize: 2 })).toBe('entry-too-large');
    expect(
      await unsafeReason(
        [
          { header: { name: 'f' }, body: 'ab' },
          { header: { name: 'g' }, body: 'ab' },
        ],
        { maxTotalSize: 3 },
      ),
    ).toBe('layer-too-large');
    expect(await unsafeReason([{ header: { name: 'f' } }, { header: { name: 'g' } }], { maxEntries: 1 })).toBe('too-many-entries');
    expect(await unsafeReason([{ header: { name: 'a/.wh..' } }])).toBe('invalid-whiteout');
    expect(await unsafeReason([{ header: { name: 'ok/x', type: 'symlink', linkname: '/etc/x' } }])).toBeUndefined();
  });

  it('reports the error message with path and reason', () => {
    const e = new UnsafeTarError('absolute-path', '/x', 'entry names must be relative');
    expect(e.message).toContain('/x');
    expect(e.message).toContain('absolute-path');
  });

  it('fails the write when content is missing from the store', async () => {
    const store = new MemoryContentStore();
    const layer = layerOf([node('f', 'file', { size: 1, digest: digestOf('z') })]);
    await expect(write(layer, store)).rejects.toThrow(/not in the store/);
  });

  it('refuses device files unless allowed, but not the 0:0 device of an overlay whiteout', async () => {
    const store = new MemoryContentStore();
    const { bytes } = await write(await sample(store), store);
    await expect(readLayer(Readable.from([bytes]), { contentStore: store })).rejects.toMatchObject({ reason: 'device-file', status: 400 });
    expect(await unsafeReason([{ header: { name: 'dev/zero', type: 'character-device', devmajor: 1, devminor: 5 } }])).toBe('device-file');
    expect(await unsafeReason([{ header: { name: 'gone', type: 'character-device', devmajor: 0, devminor: 0 } }])).toBeUndefined();
  });

  it('answers a body that is not a tar, or a truncated one, with not-a-tar', async () => {
    const store = new MemoryContentStore();
    for (const body of [
      randomBytes(20_000),
      Buffer.alloc(200_000, 'A'),
      gzipSync(randomBytes(5000)),
      gzipSync(Buffer.alloc(10_000, 'A')).subarray(0, 30),
    ]) {
      await expect(readLayer(Readable.from([body]), { contentStore: store })).rejects.toMatchObject({ reason: 'not-a-tar', status: 400 });
    }
  });

  it('stops a gzip bomb by its expansion ratio', async () => {
    const bomb = await zerosTarGz(100 * 2 ** 20);
    const expansion = { maxBytes: 2 ** 40, maxRatio: 100, ratioAfterBytes: 64 * 2 ** 20 };
    await expect(readLayer(Readable.from([bomb]), { contentStore: new MemoryContentStore(), expansion })).rejects.toMatchObject({
      reason: 'expansion',
      status: 413,
    });
    await expect(
      readLayer(Readable.from([bomb]), { contentStore: new MemoryContentStore(), expansion: { ...expansion, maxBytes: 2 ** 20 } }),
    ).rejects.toMatchObject({ reason: 'expansion' });
  });

  it('reads an empty input as an empty layer', async () => {
    const r = await readLayer(Readable.from([]), { contentStore: new MemoryContentStore() }).catch((e) => e);
    expect(r.layer?.entries ?? []).toEqual([]);
  });
});
