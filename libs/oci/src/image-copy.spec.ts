// copy() against an in-memory sink that keeps what a registry would and records the order of the
// calls: the write order, skips and mounts, verification, streamed layers, indexes, cancellation.
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import {
  MediaTypes,
  RegistryError,
  buildImage,
  copy,
  digestOf,
  indexFrom,
  mutate,
  layerFromBytes,
  streamingLayer,
  DigestStream,
  type BlobOutcome,
  type CopyProgress,
  type Digest,
  type ImageSink,
  type SinkBlob,
} from './index';
import { baseConfig, readAll, sampleImage, tarOf } from '../test/helpers';

class MemorySink implements ImageSink {
  readonly calls: string[] = [];
  readonly blobs = new Map<string, Buffer>();
  readonly links = new Set<string>();
  readonly manifests = new Map<string, Buffer>();
  readonly tags = new Map<string, string>();
  readonly unpacked = new Map<string, number>();

  async putBlob(
    repository: string,
    blob: SinkBlob,
    storedIn: readonly string[],
  ): Promise<{ outcome: BlobOutcome; digest: Digest; size: number }> {
    if (blob.digest && this.links.has(`${repository}@${blob.digest}`)) {
      this.calls.push(`exists ${repository} ${blob.digest}`);
      return { outcome: 'exists', digest: blob.digest, size: this.blobs.get(blob.digest)!.length };
    }
    if (blob.digest && storedIn.some((r) => this.links.has(`${r}@${blob.digest}`))) {
      this.links.add(`${repository}@${blob.digest}`);
      this.calls.push(`mount ${repository} ${blob.digest}`);
      return { outcome: 'mounted', digest: blob.digest, size: this.blobs.get(blob.digest)!.length };
    }
    const bytes = await readAll(await blob.open());
    const digest = digestOf(bytes);
    if (blob.digest && blob.digest !== digest) throw new RegistryError('DIGEST_INVALID', 'digest mismatch');
    this.blobs.set(digest, bytes);
    this.links.add(`${repository}@${digest}`);
    this.calls.push(`blob ${repository} ${digest}`);
    return { outcome: 'uploaded', digest, size: bytes.length };
  }
  async putManifest(repository: string, digest: Digest, bytes: Buffer): Promise<void> {
    for (const d of JSON.parse(bytes.toString()).layers ?? [])
      if (!this.links.has(`${repository}@${d.digest}`)) throw new Error(`manifest before its blob ${d.digest}`);
    this.manifests.set(`${repository}@${digest}`, bytes);
    this.calls.push(`manifest ${repository} ${digest}`);
  }
  async tag(repository: string, tag: string, digest: Digest): Promise<void> {
    if (!this.manifests.has(`${repository}@${digest}`)) throw new Error('tag before its manifest');
    this.tags.set(`${repository}:${tag}`, digest);
    this.calls.push(`tag ${repository}:${tag}`);
  }
  async layerUnpacked(digest: Digest, size: number): Promise<void> {
    this.unpacked.set(digest, size);
  }
  kinds(): string[] {
    return this.calls.map((c) => c.split(' ')[0]);
  }
}

const phaseOrder = (kinds: string[]) => {
  const rank = (k: string) => (k === 'tag' ? 2 : k === 'manifest' ? 1 : 0);
  return kinds.every((k, i) => i === 0 || rank(kinds[i - 1]) <= rank(k));
};

describe('copy', () => {
  it('stores blobs, then manifests, then tags; mounts between its repositories; a rerun only skips', async () => {
    const img = await sampleImage('a');
    const sink = new MemorySink();
    const seen: CopyProgress[] = [];
    const r = await copy(
      [
        {
          artifact: { kind: 'image', image: img },
          targets: [
            { repository: 'x/one', tag: 'v1' },
            { repository: 'x/two', tag: 'v2' },
          ],
        },
      ],
      sink,
      {
        verifyDiffIds: true,
        onProgress: (p) => seen.push(p),
      },
    );
    const last = seen.at(-1)!;
    expect(last.phase).toBe('done');
    expect(last.bytes.done).toBe(last.bytes.total);
    expect(last.bytes.total).toBe([...sink.blobs.values()].reduce((a, b) => a + b.length, 0));
    expect(last.blobs).toEqual({ done: 3, total: 3 });
    expect(last.manifests).toEqual({ done: 2, total: 2 });
    expect(phaseOrder(sink.kinds())).toBe(true);
    expect(r.blobs).toEqual({ uploaded: 3, mounted: 3, exists: 0 });
    expect(sink.tags.get('x/one:v1')).toBe(await img.digest());
    expect(sink.tags.get('x/two:v2')).toBe(await img.digest());
    expect(r.artifacts[0]).toMatchObject({ digest: await img.digest(), configDigest: await img.configName() });
    for (const l of await img.layers()) expect(sink.unpacked.get(await l.digest())).toBeGreaterThan(0);

    const again = await copy([{ artifact: { kind: 'image', image: img }, targets: [{ repository: 'x/one', tag: 'v1' }] }], sink);
    expect(again.blobs).toEqual({ uploaded: 0, mounted: 0, exists: 3 });
  });

  it('refuses a layer that does not unpack to its diff_id, before any manifest or tag', async () => {
    const good = gzipSync(await tarOf({ 'a.txt': 'a' }));
    const lie = digestOf(await tarOf({ 'b.txt': 'b' }));
    const img = await buildImage({
      rawConfig: Buffer.from(JSON.stringify({ ...baseConfig, rootfs: { type: 'layers', diff_ids: [lie] } })),
      layers: [layerFromBytes(good, MediaTypes.ociLayerGzip, lie)],
    });
    const sink = new MemorySink();
    await expect(
      copy([{ artifact: { kind: 'image', image: img }, targets: [{ repository: 'x/y', tag: 't' }] }], sink, { verifyDiffIds: true }),
    ).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    expect(sink.kinds().filter((k) => k !== 'blob')).toEqual([]);
    // Also when the sink already holds the layer and would skip it.
    await expect(
      copy([{ artifact: { kind: 'image', image: img }, targets: [{ repository: 'x/y', tag: 't' }] }], sink, { verifyDiffIds: true }),
    ).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    expect(sink.tags.size).toBe(0);
  });

  it('stores a streamed layer once and builds the manifest from what it learnt', async () => {
    const tarBytes = await tarOf({ 'new.txt': 'fresh' });
    let produced = 0;
    const layer = streamingLayer(MediaTypes.ociLayerGzip, async () => {
      produced++;
      const gz = gzipSync(tarBytes);
      const hash = new DigestStream();
      const stream = Readable.from([gz]).pipe(hash);
      const facts = new Promise<{ digest: Digest; size: number; diffId: Digest }>((resolve) =>
        hash.on('end', () => resolve({ digest: hash.digest(), size: hash.size, diffId: digestOf(tarBytes) })),
      );
      return { stream, facts };
    });
    const base = await sampleImage('base');
    // A lazily built image: its config and manifest wait for the streamed layer.
    const image = mutate(base, {
      layer,
      config: (c) => ({ ...c, author: 'me' }),
      history: { created: '2024-01-02T00:00:00Z', created_by: 'commit' },
    });
    const sink = new MemorySink();
    const r = await copy(
      [
        {
          artifact: { kind: 'image', image },
          targets: [
            { repository: 'c/one', tag: 'x' },
            { repository: 'c/two', tag: 'x' },
          ],
        },
      ],
      sink,
    );
    expect(produced).toBe(1);
    const manifest = JSON.parse(sink.manifests.get(`c/one@${r.artifacts[0].digest}`)!.toString());
    expect(manifest.layers).toHaveLength(3);
    expect(manifest.layers[2].digest).toBe(digestOf(gzipSync(tarBytes)));
    expect(sink.calls).toContain(`mount c/two ${manifest.layers[2].digest}`);
    expect(phaseOrder(sink.kinds())).toBe(true);
    const config = JSON.parse(sink.blobs.get(r.artifacts[0].configDigest!)!.toString());
    expect(config.author).toBe('me');
    expect(config.rootfs.diff_ids[2]).toBe(digestOf(tarBytes));
    expect(config.history.at(-1)).toEqual({ created: '2024-01-02T00:00:00Z', created_by: 'commit' });
  });

  it('puts an index after its children and tags only the index', async () => {
    const a = await sampleImage('amd64');
    const b = await sampleImage('arm64');
    const raw = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [
          {
            mediaType: MediaTypes.ociManifest,
            digest: await a.digest(),
            size: (await a.rawManifest()).length,
            platform: { os: 'linux', architecture: 'amd64' },
          },
          {
            mediaType: MediaTypes.ociManifest,
            digest: await b.digest(),
            size: (await b.rawManifest()).length,
            platform: { os: 'linux', architecture: 'arm64' },
          },
        ],
      }),
    );
    const index = indexFrom(raw, [
      { kind: 'image', image: a },
      { kind: 'image', image: b },
    ]);
    const sink = new MemorySink();
    const r = await copy([{ artifact: { kind: 'index', index }, targets: [{ repository: 'multi/arch', tag: 'latest' }] }], sink);
    const manifests = sink.calls.filter((c) => c.startsWith('manifest'));
    expect(manifests.map((c) => c.split(' ')[2])).toEqual([await a.digest(), await b.digest(), digestOf(raw)]);
    expect(r.artifacts[0].digest).toBe(digestOf(raw));
    expect(r.artifacts[0].images.map((i) => i.digest)).toEqual([await a.digest(), await b.digest()]);
    expect([...sink.tags]).toEqual([['multi/arch:latest', digestOf(raw)]]);
  });

  it('a cancelled copy leaves no tag', async () => {
    const ac = new AbortController();
    const sink = new MemorySink();
    const img = await sampleImage('c');
    const copying = copy([{ artifact: { kind: 'image', image: img }, targets: [{ repository: 'k/k', tag: 't' }] }], sink, {
      signal: ac.signal,
      onProgress: (p) => {
        if (p.blobs.done === 1) ac.abort(new RegistryError('CONFLICT', 'cancelled'));
      },
    });
    await expect(copying).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(sink.tags.size).toBe(0);
    expect(sink.kinds()).not.toContain('manifest');
  });

  it('property: for any images and targets, every tag names a manifest whose blobs were stored first', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            seed: fc.constantFrom('p', 'q', 'r'),
            repos: fc.uniqueArray(fc.constantFrom('n/a', 'n/b', 'm/c'), { minLength: 1, maxLength: 3 }),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        fc.integer({ min: 1, max: 3 }),
        async (specs, concurrency) => {
          const sink = new MemorySink();
          const items = await Promise.all(
            specs.map(async (s, i) => ({
              artifact: { kind: 'image' as const, image: await sampleImage(s.seed) },
              targets: s.repos.map((repository) => ({ repository, tag: `t${i}` })),
            })),
          );
          await copy(items, sink, { concurrency });
          expect(phaseOrder(sink.kinds())).toBe(true);
          for (const [i, it] of items.entries())
            for (const t of it.targets) expect(sink.tags.get(`${t.repository}:t${i}`)).toBe(await it.artifact.image.digest());
          // Each blob's bytes were uploaded at most once per copy.
          const uploads = sink.calls.filter((c) => c.startsWith('blob')).map((c) => c.split(' ')[2]);
          expect(new Set(uploads).size).toBe(uploads.length);
        },
      ),
      { numRuns: 30 },
    );
  });
});
