import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { RegistryError, digestOf, manifestReference } from '@stevedore/oci';
import { memoryServices, pushImage, tarOf } from '../test/fakes';
import { ImageService } from './image-service';
import { MemoryLayerSizeCache } from './layer-size-cache';
import { importRootfs } from './rootfs-import';

function setup() {
  const svc = memoryServices();
  const sizes = new MemoryLayerSizeCache();
  return { ...svc, sizes, images: new ImageService(svc.metadata, svc.blobs, sizes) };
}

describe('tag semantics (the seed: one image many tags, a tag names one image)', () => {
  it('gives one image many tags, and retagging moves a tag', async () => {
    const s = setup();
    const a = await pushImage(s, 'bh', 'v0.1', [{ 'a.txt': 'a' }]);
    const b = await pushImage(s, 'bh', 'v0.2', [{ 'b.txt': 'b' }]);
    await s.images.tag('bh:v0.1', 'music51555/bh:latest');
    await s.images.tag('bh:v0.1', 'music51555/bh:v0.2');
    expect(s.metadata.tagged()).toMatchObject({ 'music51555/bh:latest': a.digest, 'music51555/bh:v0.2': a.digest });
    const moved = await s.images.tag('bh:v0.2', 'music51555/bh:v0.2');
    expect(moved.previous).toBe(a.digest);
    expect(s.metadata.tagged()['music51555/bh:v0.2']).toBe(b.digest);
    expect(s.metadata.tagged()['music51555/bh:latest']).toBe(a.digest);
  });

  it('copies the manifest and mounts blobs across repositories; the source stays', async () => {
    const s = setup();
    const a = await pushImage(s, 'src/app', 'v1', [{ x: '1' }]);
    await s.images.tag(`src/app@${a.digest}`, 'dst/app:copy');
    expect(s.metadata.tagged()['dst/app:copy']).toBe(a.digest);
    for (const l of a.layers) expect(await s.blobs.stat('dst/app', l)).toBeDefined();
    expect(s.blobs.puts).toBe(2); // layer + config, never copied
    expect(s.metadata.tagged()['src/app:v1']).toBe(a.digest);
  });

  it('untag removes only the reference', async () => {
    const s = setup();
    const a = await pushImage(s, 'bh', 'latest', [{ a: 'a' }]);
    await s.images.tag('bh:latest', 'bh:v0.2');
    const u = await s.images.untag('bh:latest');
    expect(u.remainingTags).toEqual(['bh:v0.2']);
    await s.images.untag('bh:v0.2');
    // The image is still there by digest.
    expect((await s.images.resolve(`bh@${a.digest}`)).digest).toBe(a.digest);
    await expect(s.images.untag('bh:latest')).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
  });

  it('rmi by digest removes every tag and needs force where tags exist', async () => {
    const s = setup();
    const a = await pushImage(s, 'bh', 'latest', [{ a: 'a' }]);
    await s.images.tag('bh:latest', 'bh:v0.2');
    await expect(s.images.remove(`bh@${a.digest}`)).rejects.toMatchObject({ code: 'CONFLICT' });
    const r = await s.images.remove(`bh@${a.digest}`, true);
    expect(r).toEqual({ untagged: ['bh:latest', 'bh:v0.2'], deleted: [a.digest] });
    expect(s.metadata.tagged()).toEqual({});
    await expect(s.images.resolve(`bh@${a.digest}`)).rejects.toBeInstanceOf(RegistryError);
  });

  it('refuses to delete a manifest a tagged index lists', async () => {
    const s = setup();
    const a = await pushImage(s, 'multi', undefined, [{ a: 'a' }]);
    const m = await s.metadata.getManifest(manifestReference('multi', a.digest));
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: m.mediaType, digest: a.digest, size: m.size, platform: { os: 'linux', architecture: 'amd64' } }],
      }),
    );
    await s.metadata.putManifest(manifestReference('multi', 'latest'), index, 'application/vnd.oci.image.index.v1+json');
    await expect(s.images.remove(`multi@${a.digest}`, true)).rejects.toMatchObject({ code: 'CONFLICT' });
    const i = (await s.images.inspect('multi:latest')) as { Platforms: string[] };
    expect(i.Platforms).toEqual(['linux/amd64']);
    // Tagging an index across repositories copies its children too.
    await s.images.tag('multi:latest', 'other/multi:1');
    expect((await s.metadata.getManifest(manifestReference('other/multi', a.digest))).digest).toBe(a.digest);
  });
});

describe('images, inspect, history', () => {
  it('lists rows per repository and tag with sizes, filters and pages', async () => {
    const s = setup();
    await pushImage(s, 'a/one', 'v1', [{ f: '1' }]);
    await pushImage(s, 'a/one', 'v2', [{ f: '2' }]);
    await pushImage(s, 'b/two', 'latest', [{ f: '3' }]);
    const all = await s.images.list();
    expect(all.items.map((i) => `${i.repository}:${i.tag}`)).toEqual(['a/one:v1', 'a/one:v2', 'b/two:latest']);
    expect(all.items[0].created).toBe('2024-05-01T00:00:00Z');
    expect(all.items[0].compressedSize).toBeGreaterThan(0);
    expect(all.items[0].uncompressedSize).toBeNull();
    const p1 = await s.images.list({ n: 2 });
    expect(p1.items.map((i) => i.tag)).toEqual(['v1', 'v2']);
    expect(p1.next).toBe('a/one:v2');
    const p2 = await s.images.list({ n: 2, last: p1.next });
    expect(p2.items.map((i) => `${i.repository}:${i.tag}`)).toEqual(['b/two:latest']);
    expect(p2.next).toBeUndefined();
    expect((await s.images.list({ repository: 'b/two' })).items).toHaveLength(1);
    // inspect learns the uncompressed sizes, and the list shows them from then on
    const i = (await s.images.inspect('a/one:v1')) as { Size: number; UncompressedSize: number };
    expect(i.UncompressedSize).toBe((await tarOf({ f: '1' })).length);
    expect((await s.images.list({ repository: 'a/one', n: 1 })).items[0].uncompressedSize).toBe(i.UncompressedSize);
  });

  it('history has a line per step with layer sizes', async () => {
    const s = setup();
    await pushImage(s, 'h', 'latest', [{ a: 'a' }, { b: 'bb' }], {
      history: [{ created_by: 'ADD a' }, { created_by: 'ENV X=1', empty_layer: true }, { created_by: 'ADD b' }],
    });
    const h = await s.images.history('h');
    expect(h.map((e) => e.CreatedBy)).toEqual(['ADD b', 'ENV X=1', 'ADD a']);
    expect(h[0].Size).toBe((await tarOf({ b: 'bb' })).length);
    expect(h[1].Size).toBe(0);
  });
});

describe('docker import', () => {
  const gz = (b: Buffer) => Readable.from([b]).pipe(createGzip());
  it('makes a one-layer base image from a gzip rootfs with -c changes and a message', async () => {
    const s = setup();
    const rootfs = await tarOf({ 'bin/sh': '#!', 'home/html/index.html': '<h1>hi</h1>' });
    const r = await importRootfs(s, gz(rootfs), {
      reference: 'music51555/base:v1',
      changes: ['CMD ["/bin/httpd","-f"]', 'ENV A=1'],
      message: 'from a tarball',
      maxBytes: 1 << 20,
    });
    expect(r.layer.diffId).toBe(digestOf(rootfs));
    expect(r.layer.uncompressedSize).toBe(rootfs.length);
    const images = new ImageService(s.metadata, s.blobs, s.sizes);
    const i = await images.inspect('music51555/base:v1');
    if (!('Config' in i)) throw new Error('inspected an index, not the imported image');
    expect(i.Config.Cmd).toEqual(['/bin/httpd', '-f']);
    expect(i.Config.Env).toEqual(['A=1']);
    expect(i.Comment).toBe('from a tarball');
    expect(i.RootFS.Layers).toEqual([digestOf(rootfs)]);
    expect(i.Size).toBe(rootfs.length);
  });

  it('accepts a plain tar, refuses non-tars, unsafe paths and oversized input, storing no manifest', async () => {
    const s = setup();
    await importRootfs(s, Readable.from([await tarOf({ a: 'a' })]), { reference: 'p', maxBytes: 1 << 20 });
    expect(s.metadata.tagged()['p:latest']).toBeDefined();
    await expect(
      importRootfs(s, Readable.from([Buffer.from('not a tar at all'.repeat(100))]), { reference: 'bad', maxBytes: 1 << 20 }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(
      importRootfs(s, Readable.from([await tarOf({ '../escape': 'x' })]), { reference: 'bad', maxBytes: 1 << 20 }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(
      importRootfs(s, Readable.from([await tarOf({ big: 'x'.repeat(5000) })]), { reference: 'bad', maxBytes: 1000 }),
    ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await expect(
      importRootfs(s, Readable.from([await tarOf({ a: 'a' })]), { reference: 'bad', changes: ['FROM x'], maxBytes: 1000 }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect(Object.keys(s.metadata.tagged())).toEqual(['p:latest']);
  });
});
