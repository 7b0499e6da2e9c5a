// writeLayer encodes tar headers itself (tar-stream's encoder, no stream per entry): its bytes must be
// exactly those of the tar-stream pack() path it replaced, since stored layer digests depend on them,
// for any mix of entries, bodies given whole or streamed, and names or values ustar cannot hold.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import fc from 'fast-check';
import * as tar from 'tar-stream';
import type { Digest } from '@stevedore/oci';
import { toAufsWhiteouts } from './aufs-whiteouts';
import { MemoryContentStore } from './content-store';
import { layerOf, makeEntry, type Entry, type EntryType, type Layer } from './entry';
import { encodeTarHeader, tarHeader, writeLayer, type NormalizeOptions } from './write-layer';

/** The writer before this one, verbatim in what it wrote: one tar-stream pack.entry per entry. */
async function packedByTarStream(layer: Layer, store: MemoryContentStore, normalize: NormalizeOptions): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of toAufsWhiteouts(layer.entries)) {
    const body = e.type === 'file' && e.size > 0 && e.digest ? store.get(e.digest) : undefined;
    await new Promise<void>((resolve, reject) =>
      pack.entry(tarHeader(e, normalize) as tar.Header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

async function written(layer: Layer, store: MemoryContentStore, normalize: NormalizeOptions, mode: 'whole' | 'stream' | 'store') {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  const body =
    mode === 'store'
      ? undefined
      : async (d: Digest) => {
          const b = store.get(d)!;
          // Streamed in uneven pieces, so chunk boundaries fall anywhere in the tar.
          return mode === 'whole' ? b : Readable.from([b.subarray(0, 7), b.subarray(7, 3000), b.subarray(3000)].filter((c) => c.length));
        };
  const result = await writeLayer(layer, sink, { contentStore: store, compression: 'none', normalize, ...(body ? { body } : {}) });
  return { bytes: Buffer.concat(chunks), result };
}

const segment = fc.oneof(
  fc.stringMatching(/^[a-z0-9._-]{1,12}$/).filter((s) => s !== '.' && s !== '..' && !s.startsWith('.wh.')),
  // ustar cannot hold these: long components (pax path) and non-ASCII names (pax).
  fc.stringMatching(/^[a-z]{90,130}$/),
  fc.constantFrom('é', 'naïve', '日本', 'x y'),
);
const pathArb = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
const sizeArb = fc.oneof(fc.constantFrom(0, 1, 511, 512, 513, 1024), fc.integer({ min: 0, max: 40_000 }));
const idArb = fc.oneof(fc.constantFrom(0, 1000, 65534), fc.integer({ min: 0, max: 2 ** 32 - 1 }));
const kindArb = fc.constantFrom<EntryType>(
  'file',
  'file',
  'file',
  'directory',
  'symlink',
  'hardlink',
  'char-device',
  'block-device',
  'fifo',
  'whiteout',
);

const entryArb = fc.record({
  path: pathArb,
  type: kindArb,
  mode: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0o7777 })),
  uid: idArb,
  gid: idArb,
  mtime: fc.integer({ min: 0, max: 4_000_000_000 }),
  size: sizeArb,
  linkname: fc.oneof(fc.constant(''), pathArb, fc.stringMatching(/^[a-z/]{101,140}$/)),
  dev: fc.integer({ min: 0, max: 300 }),
  xattrs: fc.option(fc.dictionary(fc.stringMatching(/^user\.[a-z]{1,8}$/), fc.string({ maxLength: 20 }), { maxKeys: 3 }), {
    nil: undefined,
  }),
  opaque: fc.boolean(),
  seed: fc.integer(),
});

function bytesOf(seed: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

type Spec = typeof entryArb extends fc.Arbitrary<infer T> ? T : never;

async function layerFrom(specs: Spec[], store: MemoryContentStore): Promise<Layer> {
  const byPath = new Map<string, Entry>();
  for (const s of specs) {
    if (byPath.has(s.path)) continue;
    const fields: Partial<Entry> = { mode: s.mode, uid: s.uid, gid: s.gid, mtime: s.mtime };
    if (s.type === 'file') {
      const ref = await store.put(bytesOf(s.seed, s.size));
      Object.assign(fields, { size: ref.size, digest: ref.digest });
    }
    if (s.type === 'symlink' || s.type === 'hardlink') fields.linkname = s.linkname;
    if (s.type === 'char-device' || s.type === 'block-device') Object.assign(fields, { devmajor: s.dev, devminor: s.dev >> 1 });
    if (s.type !== 'whiteout' && s.xattrs && Object.keys(s.xattrs).length) fields.xattrs = s.xattrs;
    if (s.type === 'directory' && s.opaque) fields.opaque = true;
    byPath.set(s.path, makeEntry(s.path, s.type, fields));
  }
  return layerOf(byPath.values());
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('writeLayer tar bytes', () => {
  it('are the tar-stream pack() bytes for any layer, with bodies given whole, streamed, or opened from the store', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(entryArb, { minLength: 0, maxLength: 25 }),
        fc.option(fc.integer({ min: 0, max: 4_000_000_000 }), { nil: undefined }),
        fc.constantFrom<'whole' | 'stream' | 'store'>('whole', 'stream', 'store'),
        async (specs, clamp, mode) => {
          const store = new MemoryContentStore();
          const layer = await layerFrom(specs, store);
          const normalize = clamp === undefined ? {} : { mtime: clamp };
          const expected = await packedByTarStream(layer, store, normalize);
          const { bytes, result } = await written(layer, store, normalize, mode);
          expect(bytes.equals(expected)).toBe(true);
          expect(result.diffId).toBe(sha256(expected));
          expect(result.uncompressedSize).toBe(expected.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('are read back by GNU tar, entry for entry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'write-layer-'));
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(entryArb, { minLength: 1, maxLength: 20 }), async (specs) => {
          const store = new MemoryContentStore();
          const layer = await layerFrom(specs, store);
          const { bytes } = await written(layer, store, {}, 'whole');
          const file = join(dir, 'layer.tar');
          writeFileSync(file, bytes);
          const listed = execFileSync('tar', ['-tf', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
            .split('\n')
            .filter(Boolean);
          const names = toAufsWhiteouts(layer.entries).map((e) => (e.type === 'directory' ? `${e.path}/` : e.path));
          expect(listed).toEqual(names);
        }),
        { numRuns: 40 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('spans bodies across 1 MiB blocks and passes large streamed chunks through unchanged', async () => {
    const store = new MemoryContentStore();
    const big = await store.put(bytesOf(7, (1 << 20) * 2 + 333));
    const small = await store.put(bytesOf(9, 700));
    const layer = layerOf([
      makeEntry('a', 'file', { size: small.size, digest: small.digest }),
      makeEntry('b', 'file', { size: big.size, digest: big.digest }),
      makeEntry('c', 'file', { size: small.size, digest: small.digest }),
    ]);
    const expected = await packedByTarStream(layer, store, {});
    for (const mode of ['whole', 'stream', 'store'] as const)
      expect((await written(layer, store, {}, mode)).bytes.equals(expected)).toBe(true);
  });

  it('refuses a body shorter or longer than its entry, without writing a corrupt tar', async () => {
    const store = new MemoryContentStore();
    const ref = await store.put('hello');
    const layer = layerOf([makeEntry('f', 'file', { size: ref.size, digest: ref.digest })]);
    const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
    const as = (b: Buffer, stream: boolean) => async () => (stream ? Readable.from([b]) : b);
    for (const stream of [false, true]) {
      for (const b of [Buffer.from('hell'), Buffer.from('hello!')]) {
        await expect(writeLayer(layer, sink(), { contentStore: store, compression: 'none', body: as(b, stream) })).rejects.toThrow(
          /content of "f"/,
        );
      }
    }
  });

  it('encodes a header as one ustar block when it fits, and pax blocks when it does not', () => {
    const base = { type: 'file' as const, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), size: 5 };
    expect(encodeTarHeader({ ...base, name: 'short' }).map((b) => b.length)).toEqual([512]);
    const long = encodeTarHeader({ ...base, name: 'x'.repeat(200) });
    expect(long.map((b) => b.length)).toEqual([512, expect.any(Number), expect.any(Number), 512]);
    expect(long.reduce((a, b) => a + b.length, 0) % 512).toBe(0);
    expect(long[1].toString()).toContain(`path=${'x'.repeat(200)}\n`);
  });
});
