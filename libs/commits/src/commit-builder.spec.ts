import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import { MediaTypes, RegistryError, digestOf, type Digest, manifestReference, type LocalReference } from '@stevedore/oci';
import { MemoryContentStore, makeEntry } from '@stevedore/unionfs';
import { buildCommit, type CommitDeps } from './commit-builder';
import { CommitSpecSchema, type CommitJobData } from './commit-job';

async function bytesOf(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Blobs and manifests in memory, with the linking rules the real services have. */
function fakes() {
  const blobs = new Map<string, Buffer>();
  const links = new Set<string>();
  const manifests = new Map<string, { bytes: Buffer; mediaType: string }>();
  const tags = new Map<string, string>();
  const blobService = {
    async stat(name: string, digest: Digest) {
      const b = blobs.get(digest);
      return b && links.has(`${name}@${digest}`) ? { digest, size: b.length } : undefined;
    },
    async open(name: string, digest: Digest) {
      const b = blobs.get(digest);
      if (!b || !links.has(`${name}@${digest}`)) throw new RegistryError('BLOB_UNKNOWN');
      return { info: { digest, size: b.length }, stream: Readable.from([b]) };
    },
    async putBlob(name: string, body: Readable, expected?: Digest) {
      const b = await bytesOf(body);
      const d = digestOf(b);
      if (expected && expected !== d) throw new RegistryError('DIGEST_INVALID');
      blobs.set(d, b);
      links.add(`${name}@${d}`);
      return { digest: d, size: b.length };
    },
    async mount(name: string, from: string, digest: Digest) {
      if (!links.has(`${from}@${digest}`)) return undefined;
      links.add(`${name}@${digest}`);
      return { digest, size: blobs.get(digest)!.length };
    },
  } as unknown as BlobService; // a fake with only the methods this test reaches; the rest of the interface is never called.
  const metadata = {
    async getManifest({ name, ...r }: LocalReference) {
      const d = r.digest ?? tags.get(`${name}:${r.tag}`);
      const m = d && manifests.get(`${name}@${d}`);
      if (!m) throw new RegistryError('MANIFEST_UNKNOWN');
      return { digest: d, mediaType: m.mediaType, size: m.bytes.length, bytes: m.bytes };
    },
    async putManifest({ name }: LocalReference, bytes: Buffer, mediaType: string) {
      const m = JSON.parse(bytes.toString());
      for (const d of [m.config, ...m.layers]) if (!links.has(`${name}@${d.digest}`)) throw new RegistryError('MANIFEST_BLOB_UNKNOWN');
      manifests.set(`${name}@${digestOf(bytes)}`, { bytes, mediaType });
      return { digest: digestOf(bytes), mediaType };
    },
    async tagManifest(name: string, tag: string, digest: Digest) {
      tags.set(`${name}:${tag}`, digest);
    },
  } as unknown as MetadataService; // a fake with only the methods this test reaches; the rest of the interface is never called.
  return { blobs, links, manifests, tags, blobService, metadata };
}

async function setup() {
  const f = fakes();
  const layer = Buffer.from('not really a tar, the builder only mounts it');
  const { digest: layerDigest } = await f.blobService.putBlob('library/busybox', Readable.from([layer]));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/sh'] },
      comment: 'imported',
      rootfs: { type: 'layers', diff_ids: ['sha256:' + 'a'.repeat(64)] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'base' }],
    }),
  );
  const { digest: configDigest } = await f.blobService.putBlob('library/busybox', Readable.from([config]));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: configDigest, size: config.length },
      layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: layerDigest, size: layer.length }],
    }),
  );
  const { digest } = await f.metadata.putManifest(manifestReference('library/busybox', 'base'), manifest, MediaTypes.ociManifest);
  const content = new MemoryContentStore();
  const deps: CommitDeps = { blobs: f.blobService, metadata: f.metadata, content };
  const html = await content.put('<h1>busybox httpd server</h1>\n');
  const data: CommitJobData = {
    kind: 'commit',
    spec: CommitSpecSchema.parse({
      container: 'c'.repeat(64),
      reference: 'busy_httpd:v0.2',
      author: 'alex <452427904@qq.com>',
      changes: ['CMD ["/bin/httpd","-f","-h","/home/html"]'],
    }),
    target: { repository: 'busy_httpd', tag: 'v0.2' },
    image: {
      reference: 'library/busybox:base',
      repository: 'library/busybox',
      manifestDigest: digest,
      configDigest,
      layers: [layerDigest],
    },
    generation: 2,
    entries: [
      makeEntry('home', 'directory', { mtime: 1_900_000_000 }),
      makeEntry('home/html', 'directory', { mtime: 1_700_000_000 }),
      makeEntry('home/html/index.html', 'file', { size: html.size, digest: html.digest, mtime: 1_700_000_000 }),
    ],
    created: '2025-01-01T00:00:00.000Z',
  };
  return { f, deps, data, layerDigest };
}

/**
 * A changeset with every kind of entry the tar writer handles: hundreds of small files (more than
 * the read-ahead window), files past the read-ahead size and the gzip block size (streamed), an
 * empty file, a path too long for a ustar name (pax), links, devices, a whiteout, an opaque
 * directory and xattrs. Contents are a function of the index, so the layer's bytes are fixed.
 */
async function fixedChangeset(content: MemoryContentStore): Promise<CommitJobData['entries']> {
  const body = (i: number, size: number) => Buffer.alloc(size, `file ${i} of the fixed changeset; `);
  const file = async (path: string, i: number, size: number, fields = {}) => {
    const ref = await content.put(body(i, size));
    return makeEntry(path, 'file', { size: ref.size, digest: ref.digest, mtime: 1_700_000_000 + i, uid: 1000, gid: 1000, ...fields });
  };
  const entries = [makeEntry('data', 'directory', { mtime: 1_700_000_000 })];
  for (let i = 0; i < 300; i++) entries.push(await file(`data/f${String(i).padStart(4, '0')}`, i, 1 + ((i * 997) % 12_000)));
  entries.push(
    await file('data/big', 1000, 300 * 1024),
    await file('data/huge', 1001, 2.5 * 1024 * 1024 + 17),
    await file('data/empty', 1002, 0),
    await file(`data/${'long-name-'.repeat(12)}/leaf`, 1003, 100, { mode: 0o600 }),
    makeEntry(`data/${'long-name-'.repeat(12)}`, 'directory'),
    makeEntry('data/link', 'symlink', { linkname: 'f0001' }),
    makeEntry('data/hard', 'hardlink', { linkname: 'data/f0002' }),
    makeEntry('dev/null', 'char-device', { devmajor: 1, devminor: 3 }),
    makeEntry('dev', 'directory'),
    makeEntry('etc', 'directory', { opaque: true, xattrs: { 'user.note': 'kept' } }),
    makeEntry('usr/gone', 'whiteout'),
    makeEntry('usr', 'directory'),
  );
  return entries;
}

describe('buildCommit', () => {
  // The layer of a fixed changeset, pinned: a faster writer must produce the very same bytes, so
  // images committed before and after it share digests. Pinned from the tar-stream writer with
  // one stream per file (the writer before the buffered one), and cross-checked by gzip and sha256sum.
  it('writes the same layer bytes for a fixed changeset (pinned digest, checked by gzip and sha256sum)', async () => {
    const { f, deps, data } = await setup();
    const content = deps.content as MemoryContentStore;
    const entries = await fixedChangeset(content);
    const viaStreams = await buildCommit({ ...deps, content }, { ...data, entries });
    const viaReadAll = await buildCommit(
      { ...deps, content: Object.assign(Object.create(content) as MemoryContentStore, { readAll: async (d: Digest) => content.get(d)! }) },
      { ...data, entries },
    );
    expect(viaReadAll.layer).toEqual(viaStreams.layer);
    expect(viaStreams.layer).toEqual({
      digest: 'sha256:5a32053b9131f6456885402ef2b108191c2de3834c60d327c8a620091571f205',
      diffId: 'sha256:ed351ba0ec7925b3ef8fa87314c515a950051af0557a97454a24764cf6a959d3',
      size: 48_274,
      uncompressedSize: 4_974_592,
    });
    const dir = mkdtempSync(join(tmpdir(), 'commit-layer-'));
    try {
      writeFileSync(join(dir, 'layer.gz'), f.blobs.get(viaStreams.layer!.digest)!);
      const gunzipped = execFileSync('sh', ['-c', 'gzip -dc layer.gz | sha256sum'], { cwd: dir }).toString();
      expect(`sha256:${gunzipped.split(' ')[0]}`).toBe(viaStreams.layer!.diffId);
      const listing = execFileSync('sh', ['-c', 'gzip -dc layer.gz | tar -tvf -'], { cwd: dir }).toString();
      expect(listing).toContain(`data/${'long-name-'.repeat(12)}/leaf`);
      expect(listing).toContain('usr/.wh.gone');
      // One line per entry, and the opaque directory's `.wh..wh..opq` marker.
      expect(listing).toContain('etc/.wh..wh..opq');
      expect(listing.trim().split('\n')).toHaveLength(entries.length + 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("makes the seed's image: base layer + one new layer, author, Cmd, history; tag last", async () => {
    const { f, deps, data, layerDigest } = await setup();
    const progress: string[] = [];
    const sizes = new Map<string, number>();
    const r = await buildCommit(
      { ...deps, sizes: { get: async (ds) => ds.map((d) => sizes.get(d)), set: async (d, n) => void sizes.set(d, n) } },
      data,
      { onProgress: (p) => progress.push(p.phase) },
    );
    expect(f.tags.get('busy_httpd:v0.2')).toBe(r.digest);
    // `docker images` can size the new layer at once.
    expect(sizes.get(r.layer!.digest)).toBe(r.layer!.uncompressedSize);
    const m = JSON.parse(f.manifests.get(`busy_httpd@${r.digest}`)!.bytes.toString());
    expect(m.layers.map((l: { digest: string }) => l.digest)).toEqual([layerDigest, r.layer!.digest]);
    const cfg = JSON.parse(f.blobs.get(m.config.digest)!.toString());
    expect(cfg.author).toBe('alex <452427904@qq.com>');
    // No -m: the parent's comment ('imported') is not the new image's, as with docker commit.
    expect(cfg.comment).toBeUndefined();
    expect(cfg.created).toBe('2025-01-01T00:00:00.000Z');
    expect(cfg.config.Cmd).toEqual(['/bin/httpd', '-f', '-h', '/home/html']);
    expect(cfg.rootfs.diff_ids).toEqual(['sha256:' + 'a'.repeat(64), r.layer!.diffId]);
    expect(cfg.history).toHaveLength(2);
    expect(cfg.history[1]).toMatchObject({ created: '2025-01-01T00:00:00.000Z', author: 'alex <452427904@qq.com>' });
    const tar = gunzipSync(f.blobs.get(r.layer!.digest)!);
    expect(digestOf(tar)).toBe(r.layer!.diffId);
    expect(tar.toString('latin1')).toContain('home/html/index.html');
    expect(progress[0]).toBe('layer');
    expect(progress.at(-1)).toBe('done');
    expect(progress.indexOf('tag')).toBeGreaterThan(progress.indexOf('manifest'));
  });

  it('is deterministic: a rerun (another worker, a retry) gives the same digest', async () => {
    const { deps, data } = await setup();
    const a = await buildCommit(deps, data);
    const b = await buildCommit(deps, structuredClone(data));
    expect(b.digest).toBe(a.digest);
    expect(b.layer).toEqual(a.layer);
  });

  it('clamps mtimes to the commit time, so later clocks do not leak into the layer', async () => {
    const { f, deps, data } = await setup();
    const r = await buildCommit(deps, data);
    const tar = gunzipSync(f.blobs.get(r.layer!.digest)!);
    // 'home' was written with mtime 1.9e9 (2030); the header holds created (2025-01-01 = 1735689600).
    expect(parseInt(tar.subarray(136, 147).toString(), 8)).toBe(1735689600);
  });

  it('an empty read-write layer adds an empty_layer history entry and no layer', async () => {
    const { f, deps, data, layerDigest } = await setup();
    const r = await buildCommit(deps, { ...data, entries: [], spec: { ...data.spec, message: 'nothing' } });
    expect(r.layer).toBeUndefined();
    const m = JSON.parse(f.manifests.get(`busy_httpd@${r.digest}`)!.bytes.toString());
    expect(m.layers.map((l: { digest: string }) => l.digest)).toEqual([layerDigest]);
    const cfg = JSON.parse(f.blobs.get(m.config.digest)!.toString());
    expect(cfg.history[1]).toMatchObject({ empty_layer: true, comment: 'nothing' });
    // inspect's Comment: docker commit -m sets the image's comment too.
    expect(cfg.comment).toBe('nothing');
  });

  it('stops when cancelled, before the tag moves', async () => {
    const { f, deps, data } = await setup();
    await expect(
      buildCommit(deps, data, { checkCancelled: async () => Promise.reject(new RegistryError('CONFLICT', 'cancelled')) }),
    ).rejects.toThrow('cancelled');
    expect(f.tags.has('busy_httpd:v0.2')).toBe(false);
  });
});
