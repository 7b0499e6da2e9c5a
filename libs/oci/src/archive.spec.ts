import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import tar from 'tar-stream';
import {
  MediaTypes,
  RegistryError,
  buildImage,
  digestOf,
  layerFrom,
  layerFromBytes,
  readArchive,
  safeArchivePath,
  writeArchive,
  type Archive,
  type ErrorCode,
} from './index';
import { baseConfig, readAll, sampleImage, tarOf } from '../test/helpers';

type Entry = { name: string; body?: string | Buffer; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string };
async function tarball(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mtime: new Date(0) }, e.body ?? '');
  pack.finalize();
  // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Readable types.
  return readAll(pack as unknown as NodeJS.ReadableStream);
}
async function tarEntries(buf: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = tar.extract();
  Readable.from([buf]).pipe(ex);
  // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Readable types.
  for await (const e of ex) out.set(e.header.name, await readAll(e as unknown as NodeJS.ReadableStream));
  return out;
}

async function failsWith(p: Promise<unknown>, code: ErrorCode, pattern?: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(RegistryError.is(e, code)).toBe(true);
  if (pattern) expect((e as Error).message).toMatch(pattern);
}

describe('docker-archive + OCI layout tarballs', () => {
  let spoolDir: string;
  const opened: Archive[] = [];
  const read = async (buf: Buffer): Promise<Archive> => {
    const a = await readArchive(Readable.from([buf]), { spoolDir });
    opened.push(a);
    return a;
  };
  beforeAll(async () => {
    spoolDir = await mkdtemp(join(tmpdir(), 'oci-spec-'));
  });
  afterAll(async () => {
    for (const a of opened) await a.close();
    expect(await readdir(spoolDir)).toEqual([]);
    await rm(spoolDir, { recursive: true, force: true });
  });

  it('writes several images and tags as Docker 25 does, each blob once, and reads them back', async () => {
    const a = await sampleImage('a');
    const b = await sampleImage('b');
    const untagged = await sampleImage('c', 'docker', false);
    const bytes = await readAll(
      writeArchive([
        { image: a, tags: ['busybox:1', 'docker.io/library/busybox:latest'] },
        { image: b, tags: ['quay.io/x/y:2', `quay.io/x/y@${digestOf('z')}`] },
        { image: a, tags: ['busybox:again'] },
        { image: untagged, tags: [] },
      ]),
    );
    const files = await tarEntries(bytes);
    const blobs = [...files.keys()].filter((n) => n.startsWith('blobs/sha256/') && n.length > 'blobs/sha256/'.length);
    expect(new Set(blobs).size).toBe(blobs.length);
    // a and b share their second layer; each image has a config, a manifest and a layer of its own.
    expect(blobs).toHaveLength(3 * 3 + 1 + 2);
    expect(files.get('oci-layout')?.toString()).toBe('{"imageLayoutVersion":"1.0.0"}');
    const manifestJson = JSON.parse(String(files.get('manifest.json')));
    expect(manifestJson.map((m: { RepoTags: string[] }) => m.RepoTags)).toEqual([
      ['busybox:1', 'busybox:latest', 'busybox:again'],
      ['quay.io/x/y:2'],
      null,
    ]);
    expect(manifestJson[0].Config).toBe(`blobs/sha256/${(await a.configName()).slice(7)}`);
    expect(manifestJson[0].Layers[0]).toMatch(/^blobs\/sha256\/[a-f0-9]{64}$/);
    const index = JSON.parse(String(files.get('index.json')));
    expect(index.manifests.map((m: { annotations?: Record<string, string> }) => m.annotations)).toEqual([
      { 'io.containerd.image.name': 'docker.io/library/busybox:1', 'org.opencontainers.image.ref.name': '1' },
      { 'io.containerd.image.name': 'docker.io/library/busybox:latest', 'org.opencontainers.image.ref.name': 'latest' },
      { 'io.containerd.image.name': 'quay.io/x/y:2', 'org.opencontainers.image.ref.name': '2' },
      { 'io.containerd.image.name': 'docker.io/library/busybox:again', 'org.opencontainers.image.ref.name': 'again' },
      undefined,
    ]);
    expect(Object.keys(JSON.parse(String(files.get('repositories'))))).toEqual(['busybox', 'quay.io/x/y']);

    const archive = await read(bytes);
    expect(archive.format).toBe('docker-archive+oci-layout');
    expect(archive.images).toHaveLength(3);
    expect(await archive.images[0].image.digest()).toBe(await a.digest());
    expect(await archive.images[2].image.digest()).toBe(await untagged.digest());
    expect(archive.images[2].repoTags).toEqual([]);
    expect(archive.images[1].tags).toEqual([{ registry: 'quay.io', repository: 'x/y', tag: '2' }]);
    const layers = await archive.images[1].image.layers();
    expect(await readAll(await layers[0].compressed())).toEqual(await readAll(await (await b.layers())[0].compressed()));
    expect(digestOf(await readAll(await layers[0].uncompressed()))).toBe(await layers[0].diffId());
  });

  it('gzips on request and reads gzip input', async () => {
    const a = await sampleImage('gz');
    const bytes = await readAll(writeArchive([{ image: a, tags: ['gz:1'] }], { gzip: true }));
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const archive = await read(bytes);
    expect(archive.compression).toBe('gzip');
    expect(archive.images[0].repoTags).toEqual(['gz:1']);
  });

  it.each([
    ['bzip2', Buffer.from('BZh91AY&SY')],
    ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2])],
    ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0])],
  ])('detects %s and refuses a truncated stream of it as corrupt', async (kind, head) => {
    await failsWith(read(head), 'INVALID_REQUEST', new RegExp(`${kind} input is corrupt or truncated`));
  });

  it.each(['bzip2', 'xz', 'zstd'])('reads a %s-compressed archive (the system decompressor)', async (tool) => {
    const a = await sampleImage(tool);
    const plain = await readAll(writeArchive([{ image: a, tags: [`${tool}:1`] }]));
    const packed = execFileSync(tool, ['-c'], { input: plain });
    const archive = await read(packed);
    expect(archive.compression).toBe(tool);
    expect(archive.images[0].repoTags).toEqual([`${tool}:1`]);
  });

  it.each([
    [[{ name: '../evil' }], /contains "\.\."/],
    [[{ name: '/etc/passwd' }], /is absolute/],
    [[{ name: 'a/../../b' }], /contains "\.\."/],
    [[{ name: 'link', type: 'symlink', linkname: '../../etc/shadow' }], /contains "\.\."/],
    [[{ name: 'link', type: 'symlink', linkname: '/etc/shadow' }], /is absolute/],
    [[{ name: 'hard', type: 'link', linkname: '../x' }], /contains "\.\."/],
  ] as Array<[Entry[], RegExp]>)('refuses unsafe paths %#', async (entries, pattern) => {
    await failsWith(read(await tarball(entries)), 'INVALID_REQUEST', pattern);
  });

  it('normalises safe paths', () => {
    expect(safeArchivePath('./a//b/')).toBe('a/b');
    expect(safeArchivePath('.')).toBe('');
    expect(() => safeArchivePath('a\0b')).toThrow(/NUL/);
    expect(() => safeArchivePath('C:\\x')).toThrow(/absolute/);
  });

  it('reads the pre-25 layout (<id>/layer.tar, symlinked duplicates, gzip layers)', async () => {
    const t1 = await tarOf({ a: '1' });
    const t2 = gzipSync(await tarOf({ b: '2' }));
    const config = Buffer.from(
      JSON.stringify({
        ...baseConfig,
        rootfs: { type: 'layers', diff_ids: [digestOf(t1), digestOf(await tarOf({ b: '2' })), digestOf(t1)] },
      }),
    );
    const id = digestOf(config).slice(7);
    const archive = await read(
      await tarball([
        { name: 'l1/', type: 'directory' },
        { name: 'l1/layer.tar', body: t1 },
        { name: 'l1/VERSION', body: '1.0' },
        { name: 'l2/layer.tar', body: t2 },
        { name: 'l3/layer.tar', type: 'symlink', linkname: '../l1/layer.tar' },
        { name: `${id}.json`, body: config },
        {
          name: 'manifest.json',
          body: JSON.stringify([
            { Config: `${id}.json`, RepoTags: ['old:1', 'Not A Ref'], Layers: ['l1/layer.tar', 'l2/layer.tar', 'l3/layer.tar'] },
          ]),
        },
      ]),
    );
    expect(archive.format).toBe('docker-archive');
    const [{ image, repoTags, tags }] = archive.images;
    expect(repoTags).toEqual(['old:1', 'Not A Ref']);
    expect(tags).toHaveLength(1);
    expect(await image.mediaType()).toBe(MediaTypes.dockerManifest);
    expect(await image.configName()).toBe(`sha256:${id}`);
    const m = await image.manifest();
    expect(m.layers.map((l) => l.mediaType)).toEqual([MediaTypes.dockerLayer, MediaTypes.dockerLayerGzip, MediaTypes.dockerLayer]);
    expect(m.layers[2].digest).toBe(digestOf(t1));
    const layers = await image.layers();
    expect(await readAll(await layers[1].compressed())).toEqual(t2);
  });

  it('explains broken archives', async () => {
    const cfg = Buffer.from(JSON.stringify(baseConfig));
    const bad = async (entries: Entry[], code: ErrorCode, pattern: RegExp) => failsWith(read(await tarball(entries)), code, pattern);
    await bad([{ name: 'x' }], 'MANIFEST_INVALID', /neither manifest.json/);
    await bad([{ name: 'manifest.json', body: '{' }], 'MANIFEST_INVALID', /not valid JSON/);
    await bad([{ name: 'manifest.json', body: '{}' }], 'MANIFEST_INVALID', /must be a JSON array/);
    await bad([{ name: 'manifest.json', body: '[{"Config":1}]' }], 'MANIFEST_INVALID', /needs Config/);
    await bad([{ name: 'manifest.json', body: '[{"Config":"c.json","Layers":[]}]' }], 'MANIFEST_INVALID', /no config "c.json"/);
    await bad(
      [
        { name: 'c.json', body: cfg },
        { name: 'manifest.json', body: '[{"Config":"c.json","Layers":["l.tar"]}]' },
      ],
      'MANIFEST_INVALID',
      /1 layers but its config has 0/,
    );
    const cfg1 = Buffer.from(JSON.stringify({ ...baseConfig, rootfs: { type: 'layers', diff_ids: [digestOf('x')] } }));
    await bad(
      [
        { name: 'c.json', body: cfg1 },
        { name: 'manifest.json', body: '[{"Config":"c.json","Layers":["l.tar"]}]' },
      ],
      'MANIFEST_INVALID',
      /no layer "l.tar"/,
    );
    await bad(
      [
        { name: 'c.json', body: cfg1 },
        { name: 'l.tar', body: 'y' },
        { name: 'manifest.json', body: '[{"Config":"c.json","Layers":["l.tar"]}]' },
      ],
      'DIGEST_INVALID',
      /diff_id/,
    );
    await bad(
      [
        { name: 'c.json', body: '{"os":1}' },
        { name: 'manifest.json', body: '[{"Config":"c.json","Layers":[]}]' },
      ],
      'MANIFEST_INVALID',
      /invalid image config/,
    );
    await bad(
      [
        { name: 'c.json', body: 'nope' },
        { name: 'manifest.json', body: '[{"Config":"c.json","Layers":[]}]' },
      ],
      'MANIFEST_INVALID',
      /config is not valid JSON/,
    );
  });

  it('fails the stream when a layer does not match its descriptor', async () => {
    const good = gzipSync(await tarOf({ a: '1' }));
    const lying = (bytes: Buffer, size = good.length) =>
      layerFrom({
        open: async () => Readable.from([bytes]),
        mediaType: MediaTypes.ociLayerGzip,
        digest: digestOf(good),
        size,
        diffId: digestOf('d'),
      });
    const tamper = Buffer.from(good);
    tamper[tamper.length - 1] ^= 1;
    for (const [layer, code] of [
      [lying(tamper), 'DIGEST_INVALID'],
      [lying(good, good.length + 5), 'SIZE_INVALID'],
      [lying(Buffer.concat([good, good])), 'SIZE_INVALID'],
    ] as const) {
      const image = await buildImage({ config: baseConfig, layers: [layer] });
      await failsWith(readAll(writeArchive([{ image, tags: ['t'] }])), code);
    }
  });

  it('derives layer facts it was not given', async () => {
    const t = await tarOf({ f: 'x' });
    const l = layerFrom({ open: async () => Readable.from([gzipSync(t)]), mediaType: MediaTypes.ociLayerGzip });
    expect(await l.diffId()).toBe(digestOf(t));
    expect(await l.size()).toBe(gzipSync(t).length);
    expect(await l.digest()).toBe(digestOf(gzipSync(t)));
    expect(await layerFromBytes(t, MediaTypes.ociLayer).diffId()).toBe(digestOf(t));
  });
});

describe('content-addressed paths', () => {
  it('refuses a blob whose bytes do not match its name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oci-spec-'));
    try {
      const name = `blobs/sha256/${'0'.repeat(64)}`;
      await failsWith(
        readArchive(Readable.from([await tarball([{ name, body: 'x' }])]), { spoolDir: dir }),
        'DIGEST_INVALID',
        /does not match its digest/,
      );
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('archive round trip (property)', () => {
  it('whatever layers go in come out with the same digests and bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oci-prop-'));
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.string({ maxLength: 50 }), { minKeys: 1, maxKeys: 3 }), {
            maxLength: 3,
          }),
          fc.boolean(),
          async (contents, gzip) => {
            const layers = await Promise.all(contents.map(async (c) => layerFromBytes(gzipSync(await tarOf(c)))));
            const image = await buildImage({ config: baseConfig, layers, format: gzip ? 'docker' : 'oci' });
            const archive = await readArchive(writeArchive([{ image, tags: ['p:1'] }], { gzip }), { spoolDir: dir });
            try {
              const back = archive.images[0].image;
              expect(await back.digest()).toBe(await image.digest());
              const got = await back.layers();
              for (let i = 0; i < got.length; i++)
                expect(await readAll(await got[i].compressed())).toEqual(await readAll(await layers[i].compressed()));
            } finally {
              await archive.close();
            }
          },
        ),
        { numRuns: 15 },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('follows a nested index in an OCI layout tarball', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oci-nested-'));
    try {
      const img = await sampleImage('n');
      const raw = await img.rawManifest();
      const child = {
        mediaType: MediaTypes.ociManifest,
        digest: await img.digest(),
        size: raw.length,
        platform: { architecture: 'amd64', os: 'linux' },
      };
      const inner = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [child] }));
      const blob = (d: string, body: Buffer): Entry => ({ name: `blobs/sha256/${d.slice(7)}`, body });
      const entries: Entry[] = [
        blob(await img.digest(), raw),
        blob(await img.configName(), await img.rawConfigFile()),
        ...(await Promise.all((await img.layers()).map(async (l) => blob(await l.digest(), await readAll(await l.compressed()))))),
        blob(digestOf(inner), inner),
        { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
        {
          name: 'index.json',
          body: JSON.stringify({
            schemaVersion: 2,
            manifests: [
              {
                mediaType: MediaTypes.ociIndex,
                digest: digestOf(inner),
                size: inner.length,
                annotations: { 'io.containerd.image.name': 'example.com/n:1' },
              },
              { mediaType: MediaTypes.ociManifest, digest: digestOf('absent'), size: 1 },
            ],
          }),
        },
      ];
      const archive = await readArchive(Readable.from([await tarball(entries)]), { spoolDir: dir });
      expect(archive.format).toBe('oci-layout');
      expect(archive.images).toHaveLength(1);
      expect(await archive.images[0].image.digest()).toBe(await img.digest());
      expect(archive.images[0].repoTags).toEqual(['example.com/n:1']);
      expect(archive.images[0].tags).toEqual([{ registry: 'example.com', repository: 'n', tag: '1' }]);
      await archive.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
