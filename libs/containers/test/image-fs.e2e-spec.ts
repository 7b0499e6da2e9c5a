// An image's union filesystem through GET /api/v1/images/fs against a real Stevedore: the merged view
// of a two-layer image where the upper layer replaces a file and deletes another (a whiteout), with
// the layer each entry comes from and the layers it shadows.
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { startStevedore, http, pushBlob, sha256, type StevedoreUnderTest, type UncheckedJson } from '@stevedore/testing';

jest.setTimeout(120_000);

let sut: StevedoreUnderTest;
beforeAll(async () => {
  sut = await startStevedore({ wiring: 'all' });
});
afterAll(async () => {
  await sut?.stop();
});

async function layer(files: Record<string, string | null>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) {
    if (name.endsWith('/')) pack.entry({ name, type: 'directory', mode: 0o755, mtime: new Date(0) });
    else if (body === null) {
      const slash = name.lastIndexOf('/');
      pack.entry({ name: `${name.slice(0, slash + 1)}.wh.${name.slice(slash + 1)}`, mode: 0o644, mtime: new Date(0) }, '');
    } else pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function pushTwoLayers(name: string, tag: string, only?: number): Promise<string[]> {
  const all = [
    await layer({ 'etc/': '', 'etc/motd': 'base motd\n', 'etc/hosts': '127.0.0.1 localhost\n', 'bin/': '', 'bin/sh': 'sh' }),
    await layer({ 'etc/': '', 'etc/motd': 'new motd, longer\n', 'etc/hosts': null, 'srv/': '', 'srv/app': 'app' }),
  ];
  const tars = only === undefined ? all : all.slice(0, only);
  const descs = [];
  for (const t of tars) {
    const gz = gzipSync(t);
    descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await pushBlob(sut.url, name, gz), size: gz.length });
  }
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: tars.map(sha256) } }),
  );
  const c = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(sut.url, name, config), size: config.length };
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: c, layers: descs });
  const put = await http(sut.url, 'PUT', `/v2/${name}/manifests/${tag}`, manifest, {
    'content-type': 'application/vnd.oci.image.manifest.v1+json',
  });
  expect(put.status).toBe(201);
  return descs.map((d) => d.digest);
}

const browse = async (ref: string, path?: string) =>
  http(sut.url, 'GET', `/api/v1/images/fs?ref=${encodeURIComponent(ref)}${path === undefined ? '' : `&path=${encodeURIComponent(path)}`}`);

describe('GET /api/v1/images/fs', () => {
  it('shows the merged view with the layer each entry comes from and what it shadows', async () => {
    const layers = await pushTwoLayers('fs/app', 'v1');
    const root = await browse('fs/app:v1');
    expect(root.status).toBe(200);
    const r = root.json();
    expect(r.layers).toEqual(layers);
    expect(r.entry).toMatchObject({ path: '', type: 'directory' });
    expect(r.children.map((e: UncheckedJson) => [e.path, e.type])).toEqual([
      ['bin', 'directory'],
      ['etc', 'directory'],
      ['srv', 'directory'],
    ]);
    const etc = (await browse('fs/app:v1', '/etc')).json();
    expect(etc.entry).toMatchObject({ path: 'etc', layer: 1, shadows: [0] });
    // hosts is whited out by layer 1: not listed; motd comes from layer 1 and shadows layer 0's.
    expect(etc.children.map((e: UncheckedJson) => [e.path, e.layer, e.shadows, e.size])).toEqual([['etc/motd', 1, [0], 17]]);
    const motd = (await browse('fs/app:v1', 'etc/motd')).json();
    expect(motd.entry).toMatchObject({ type: 'file', layer: 1, shadows: [0] });
    expect(motd.children).toEqual([]);
    expect((await browse('fs/app:v1', '/bin/sh')).json().entry).toMatchObject({ layer: 0, shadows: [] });
  });

  it('answers a missing path 404, a path that climbs out 400, and a missing image 404', async () => {
    await pushTwoLayers('fs/refuse', 'v1');
    const hosts = await browse('fs/refuse:v1', '/etc/hosts');
    expect(hosts.status).toBe(404);
    expect(hosts.json().errors[0]).toMatchObject({ code: 'NOT_FOUND', message: 'no such file or directory in fs/refuse:v1: /etc/hosts' });
    expect((await browse('fs/refuse:v1', '../../etc')).status).toBe(400);
    expect((await browse('fs/refuse:nosuch')).status).toBe(404);
  });

  it("gives a layer's changeset against the layers below it, and an image's against another, as A/C/D with sizes", async () => {
    await pushTwoLayers('fs/changes', 'v1');
    await pushTwoLayers('fs/changes', 'v0', 1);
    const get = async (q: string) => {
      const r = await http(sut.url, 'GET', `/api/v1/images/changes?${q}`);
      if (r.status !== 200) throw new Error(`${r.status} ${r.body}`);
      return r.json().changes.map((c: UncheckedJson) => [c.path, c.kind, c.size ?? null]);
    };
    const top = [
      ['/etc', 'C', 0],
      ['/etc/hosts', 'D', null],
      ['/etc/motd', 'C', 17],
      ['/srv', 'A', 0],
      ['/srv/app', 'A', 3],
    ];
    expect(await get('ref=fs/changes:v1&layer=1')).toEqual(top);
    expect(await get('ref=fs/changes:v1')).toEqual(top);
    expect((await get('ref=fs/changes:v1&layer=0')).map((c: unknown[]) => c.slice(0, 2))).toEqual([
      ['/bin', 'A'],
      ['/bin/sh', 'A'],
      ['/etc', 'A'],
      ['/etc/hosts', 'A'],
      ['/etc/motd', 'A'],
    ]);
    // v0 is v1's first layer alone: v1 against it is what the second layer did (a directory the diff
    // does not repeat is no change).
    expect((await get('ref=fs/changes:v1&from=fs/changes:v0')).filter((c: unknown[]) => c[0] !== '/etc' || c[1] !== 'C')).toEqual(
      top.filter((c) => c[0] !== '/etc'),
    );
    expect(await get('ref=fs/changes:v1&from=fs/changes:v1')).toEqual([]);
    expect((await http(sut.url, 'GET', '/api/v1/images/changes?ref=fs/changes:v1&layer=2')).status).toBe(400);
    expect((await http(sut.url, 'GET', '/api/v1/images/changes?ref=fs/changes:v1&layer=0&from=fs/changes:v0')).status).toBe(400);
  });

  it('downloads one file from the layer the merged view names: its bytes, length and name; 404 whited out or missing, 400 a directory', async () => {
    await pushTwoLayers('fs/file', 'v1');
    const file = (ref: string, path: string) =>
      http(sut.url, 'GET', `/api/v1/images/file?ref=${encodeURIComponent(ref)}&path=${encodeURIComponent(path)}`);
    const motd = await file('fs/file:v1', '/etc/motd');
    expect(motd.status).toBe(200);
    // Layer 1's motd, not the one it shadows in layer 0.
    expect(motd.body.toString()).toBe('new motd, longer\n');
    expect(motd.headers.get('content-length')).toBe('17');
    expect(motd.headers.get('content-type')).toBe('application/octet-stream');
    expect(motd.headers.get('content-disposition')).toBe(`attachment; filename="motd"; filename*=UTF-8''motd`);
    expect(motd.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await file('fs/file:v1', 'bin/sh')).body.toString()).toBe('sh');
    const hosts = await file('fs/file:v1', '/etc/hosts');
    expect(hosts.status).toBe(404);
    expect(hosts.json().errors[0]).toMatchObject({ code: 'NOT_FOUND', detail: { path: '/etc/hosts' } });
    expect((await file('fs/file:v1', '/nope')).status).toBe(404);
    const dir = await file('fs/file:v1', '/etc');
    expect(dir.status).toBe(400);
    expect(dir.json().errors[0]).toMatchObject({ code: 'INVALID_REQUEST', message: '/etc is a directory, not a file' });
    expect((await file('fs/file:v1', '../../etc/passwd')).status).toBe(400);
    expect((await http(sut.url, 'GET', '/api/v1/images/file?ref=fs/file:v1')).status).toBe(400);
    expect((await file('fs/file:nosuch', '/etc/motd')).status).toBe(404);
  });

  it("downloads a hard link's bytes (its target's), and names a file with a quote or non-ASCII name exactly", async () => {
    const pack = tar.pack();
    pack.entry({ name: 'srv/', type: 'directory', mode: 0o755, mtime: new Date(0) });
    pack.entry({ name: 'srv/data.bin', mode: 0o644, mtime: new Date(0) }, 'the data\n');
    pack.entry({ name: 'srv/alias', type: 'link', linkname: 'srv/data.bin', mode: 0o644, mtime: new Date(0) });
    pack.entry({ name: "srv/l'été.txt", mode: 0o644, mtime: new Date(0) }, 'summer\n');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const t = Buffer.concat(chunks);
    const gz = gzipSync(t);
    const name = 'fs/links';
    const layerDesc = {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: await pushBlob(sut.url, name, gz),
      size: gz.length,
    };
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(t)] } }),
    );
    const c = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(sut.url, name, config), size: config.length };
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: c,
      layers: [layerDesc],
    });
    expect(
      (await http(sut.url, 'PUT', `/v2/${name}/manifests/v1`, manifest, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }))
        .status,
    ).toBe(201);
    const file = (path: string) => http(sut.url, 'GET', `/api/v1/images/file?ref=${name}:v1&path=${encodeURIComponent(path)}`);
    const alias = await file('/srv/alias');
    expect({ status: alias.status, body: alias.body.toString(), length: alias.headers.get('content-length') }).toEqual({
      status: 200,
      body: 'the data\n',
      length: '9',
    });
    const accented = await file("/srv/l'été.txt");
    expect(accented.body.toString()).toBe('summer\n');
    expect(accented.headers.get('content-disposition')).toBe(`attachment; filename="l'_t_.txt"; filename*=UTF-8''l%27%C3%A9t%C3%A9.txt`);
  });
});
