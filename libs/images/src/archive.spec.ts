import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { digestOf, manifestReference } from '@stevedore/oci';
import { memoryServices, pushImage, tarOf } from '../test/fakes';
import { planExport, writeExport } from './archive-export';
import { loadArchive, type LoadOptions } from './archive-load';
import { ImageService } from './image-service';
import { MemoryLayerSizeCache } from './layer-size-cache';

let spoolDir: string;
beforeAll(async () => {
  spoolDir = await mkdtemp(join(tmpdir(), 'images-spec-'));
});
afterAll(() => rm(spoolDir, { recursive: true, force: true }));

function setup() {
  const svc = memoryServices();
  const sizes = new MemoryLayerSizeCache();
  return { ...svc, sizes, images: new ImageService(svc.metadata, svc.blobs, sizes) };
}
type Env = ReturnType<typeof setup>;

async function save(s: Env, references: string[], compression: 'none' | 'gzip' | 'zstd' = 'none'): Promise<Buffer> {
  const plan = await planExport(s.metadata, { references, compression });
  const r = await writeExport(s, plan, { path: 'exports/x/archive', compression });
  const bytes = s.storage.objects.get('exports/x/archive') ?? Buffer.alloc(0);
  expect(r.archive.size).toBe(bytes.length);
  expect(r.archive.digest).toBe(digestOf(bytes));
  return bytes;
}

const load = (s: Env, archive: Buffer, options: Partial<LoadOptions> = {}) =>
  loadArchive(s, Readable.from([archive]), { spoolDir, maxBytes: 1 << 26, ...options });

async function entries(archive: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const x = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    x.on('entry', (h, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => chunks.push(c as Buffer));
      body.on('end', () => {
        out.set(h.name, Buffer.concat(chunks));
        next();
      });
    });
    x.on('finish', resolve);
    x.on('error', reject);
  });
  x.end(archive[0] === 0x1f ? gunzipSync(archive) : archive);
  await done;
  return out;
}

async function repack(files: Map<string, Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of files) pack.entry({ name, mtime: new Date(0) }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Readable types.
  for await (const c of pack as unknown as Readable) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

describe('save and load (the seed: docker save -o bh.gz ... ; docker load -i bh.gz)', () => {
  it('saves music51555/bh:latest and :v0.2 (and the repository alone), untags, loads back to the same digests', async () => {
    const s = setup();
    const a = await pushImage(s, 'music51555/bh', 'latest', [{ 'etc/os': 'busybox' }, { 'home/html/index.html': '<h1>bh</h1>' }]);
    const b = await pushImage(s, 'music51555/bh', 'v0.2', [{ 'etc/os': 'busybox' }, { 'home/html/index.html': '<h1>v0.2</h1>' }]);
    const archive = await save(s, ['music51555/bh', 'music51555/bh:v0.2'], 'gzip');
    expect(archive[0]).toBe(0x1f);
    const files = await entries(archive);
    const manifestJson = JSON.parse(String(files.get('manifest.json')));
    expect(
      manifestJson
        .map((m: { RepoTags: string[] }) => m.RepoTags)
        .flat()
        .sort(),
    ).toEqual(['music51555/bh:latest', 'music51555/bh:v0.2']);
    // The shared base layer is written once.
    expect([...files.keys()].filter((k) => k.startsWith('blobs/sha256/') && k.length > 20)).toHaveLength(1 + 2 + 2 + 2);

    await s.images.untag('music51555/bh:latest');
    await s.images.untag('music51555/bh:v0.2');
    expect(s.metadata.tagged()).toEqual({});

    const report = await load(s, archive);
    expect(report.compression).toBe('gzip');
    expect(report.format).toBe('docker-archive+oci-layout');
    expect(report.loaded.sort()).toEqual(['Loaded image: music51555/bh:latest', 'Loaded image: music51555/bh:v0.2']);
    expect(s.metadata.tagged()).toEqual({ 'music51555/bh:latest': a.digest, 'music51555/bh:v0.2': b.digest });
    // Loading also taught the uncompressed sizes.
    expect((await s.images.list()).items.every((i) => (i.uncompressedSize ?? 0) > 0)).toBe(true);
  });

  it('round-trips several images and tags into a fresh registry, each blob stored once', async () => {
    const src = setup();
    const a = await pushImage(src, 'team/app', 'v1', [{ base: 'same' }, { app: '1' }]);
    await src.images.tag('team/app:v1', 'team/app:stable');
    const b = await pushImage(src, 'team/db', 'v9', [{ base: 'same' }, { db: '9' }]);
    const archive = await save(src, ['team/app', 'team/db:v9']);
    const dst = setup();
    const report = await load(dst, archive);
    expect(dst.metadata.tagged()).toEqual({ 'team/app:v1': a.digest, 'team/app:stable': a.digest, 'team/db:v9': b.digest });
    expect(report.blobs).toEqual({ total: 5, stored: 5, existing: 0 });
    expect(dst.blobs.puts).toBe(5);
    expect(await dst.blobs.stat('team/db', a.layers[0])).toBeDefined();
    // Loading the same archive again stores nothing new.
    const again = await load(dst, archive);
    expect(again.blobs).toMatchObject({ stored: 0, existing: 5 });
  });

  it('loads untagged images only into a named repository', async () => {
    const src = setup();
    const a = await pushImage(src, 'x', 'v1', [{ a: 'a' }]);
    const archive = await save(src, [`x@${a.digest}`]);
    const dst = setup();
    const skipped = await load(dst, archive);
    expect(skipped.skipped).toHaveLength(1);
    expect(dst.metadata.tagged()).toEqual({});
    const r = await load(dst, archive, { repository: 'restored' });
    expect(r.loaded).toEqual([`Loaded image ID: restored@${a.digest}`]);
    expect((await dst.metadata.getManifest(manifestReference('restored', a.digest))).digest).toBe(a.digest);
  });

  it('saves zstd through the system zstd (28 b5 2f fd, application/zstd), which zstd -d and load read back', async () => {
    const src = setup();
    const a = await pushImage(src, 'z', 'v1', [{ base: 'z' }, { app: 'z'.repeat(5000) }]);
    const plain = await save(src, ['z:v1']);
    const plan = await planExport(src.metadata, { references: ['z:v1'], compression: 'zstd' });
    const r = await writeExport(src, plan, { path: 'exports/z/archive', compression: 'zstd' });
    expect(r.archive).toMatchObject({ compression: 'zstd', mediaType: 'application/zstd' });
    const zst = src.storage.objects.get('exports/z/archive')!;
    expect([...zst.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    expect(r.archive.size).toBe(zst.length);
    expect(execFileSync('zstd', ['-dc'], { input: zst }).equals(plain)).toBe(true);
    const dst = setup();
    const report = await load(dst, zst);
    expect(report.compression).toBe('zstd');
    expect(dst.metadata.tagged()).toEqual({ 'z:v1': a.digest });
  });

  it('a load records the sizes of layers it found already stored (it checks their diff_ids, so it reads them)', async () => {
    const s = setup();
    await pushImage(s, 'known', 'v1', [{ a: 'a'.repeat(3000) }, { b: 'b'.repeat(4000) }]);
    const archive = await save(s, ['known:v1']);
    // Pushed through the registry API: no size recorded for its layers.
    expect(s.sizes.map.size).toBe(0);
    const report = await load(s, archive);
    expect(report.blobs.existing).toBeGreaterThan(0);
    const [row] = (await s.images.list({ repository: 'known' })).items;
    const history = await s.images.history('known:v1');
    expect(row.uncompressedSize).toBe(history.reduce((n, h) => n + h.Size, 0));
    expect(row.uncompressedSize).toBeGreaterThan(7000);
  });

  it('reads bzip2, xz and zstd archives through the system tools', async () => {
    const src = setup();
    await pushImage(src, 'c', 'v1', [{ a: 'a' }]);
    const archive = await save(src, ['c:v1']);
    for (const [tool, kind] of [
      ['bzip2', 'bzip2'],
      ['xz', 'xz'],
      ['zstd', 'zstd'],
    ] as const) {
      const packed = execFileSync(tool, ['-c'], { input: archive });
      const dst = setup();
      const r = await load(dst, packed);
      expect(r.compression).toBe(kind);
      expect(Object.keys(dst.metadata.tagged())).toEqual(['c:v1']);
    }
  });
});

describe('load refuses bad archives and tags nothing', () => {
  let good: Buffer;
  let files: Map<string, Buffer>;
  let layer: string;
  beforeAll(async () => {
    const src = setup();
    const a = await pushImage(src, 'bad/app', 'v1', [{ a: 'a' }, { b: 'b' }]);
    layer = `blobs/sha256/${a.layers[1].slice(7)}`;
    good = await save(src, ['bad/app:v1']);
    files = await entries(good);
  });

  const refused = async (archive: Buffer, code: string, message?: RegExp, options: Partial<LoadOptions> = {}) => {
    const dst = setup();
    const err = await load(dst, archive, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code });
    if (message) expect((err as Error).message).toMatch(message);
    expect(dst.metadata.tagged()).toEqual({});
    expect(dst.metadata.manifests.size).toBe(0);
  };

  it('a path escaping the archive', async () => {
    await refused(await repack(new Map([...files, ['../../etc/passwd', Buffer.from('x')]])), 'INVALID_REQUEST', /unsafe path/);
    await refused(await repack(new Map([['/abs', Buffer.from('x')], ...files])), 'INVALID_REQUEST', /unsafe path/);
  });

  it('a blob that does not match its digest', async () => {
    const tampered = new Map(files);
    tampered.set(layer, gzipSync(await tarOf({ b: 'evil' })));
    await refused(await repack(tampered), 'DIGEST_INVALID');
  });

  it('a layer whose content does not match the diff_id of the config', async () => {
    // Rewrite a pre-25 archive (no manifest) whose config names another diff_id for the layer.
    const m = JSON.parse(String(files.get('manifest.json')))[0];
    const cfg = JSON.parse(String(files.get(m.Config)));
    cfg.rootfs.diff_ids[1] = digestOf('something else');
    const cfgBytes = Buffer.from(JSON.stringify(cfg));
    const old = new Map<string, Buffer>([
      [`${digestOf(cfgBytes).slice(7)}.json`, cfgBytes],
      ['l0/layer.tar', files.get(m.Layers[0]) ?? Buffer.alloc(0)],
      ['l1/layer.tar', files.get(m.Layers[1]) ?? Buffer.alloc(0)],
      [
        'manifest.json',
        Buffer.from(
          JSON.stringify([
            { Config: `${digestOf(cfgBytes).slice(7)}.json`, RepoTags: ['bad/app:v1'], Layers: ['l0/layer.tar', 'l1/layer.tar'] },
          ]),
        ),
      ],
    ]);
    await refused(await repack(old), 'DIGEST_INVALID', /diff_id/);
  });

  it('a missing blob', async () => {
    const missing = new Map(files);
    missing.delete(layer);
    await refused(await repack(missing), 'MANIFEST_INVALID', /no layer/);
  });

  it('truncated input, plain and gzip', async () => {
    await refused(good.subarray(0, Math.floor(good.length / 2)), 'INVALID_REQUEST', /truncated/);
    const gz = gzipSync(good);
    await refused(gz.subarray(0, Math.floor(gz.length / 2)), 'INVALID_REQUEST', /truncated/);
  });

  it('an archive past the size limit', async () => {
    await refused(good, 'PAYLOAD_TOO_LARGE', undefined, { maxBytes: 1024 });
    await refused(gzipSync(good), 'PAYLOAD_TOO_LARGE', undefined, { maxBytes: 1024 });
  });

  it('something that is not an archive', async () => {
    await refused(Buffer.from('hello world, not a tar'.repeat(50)), 'INVALID_REQUEST');
    await refused(await repack(new Map([['hello.txt', Buffer.from('hi')]])), 'MANIFEST_INVALID', /neither manifest.json/);
  });
});
