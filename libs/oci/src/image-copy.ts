// One copy for every flow that stores an image (go-containerregistry's remote.Write / layout.Write
// behind one function): push-side flows (load, import, commit, pull-through, replication) all
// become copy(source, sink). The write order that keeps a crash harmless is held here, once:
//   1. every blob (layers, then the config) into every target repository, each verified;
//   2. manifests by digest, an index's children before the index;
//   3. tags last.
// A copy that fails or is killed anywhere leaves no tag on anything incomplete; what it stored is
// unreferenced and garbage collection reclaims it. A rerun skips what the sink already holds.
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestStream, type Digest } from './digest';
import { RegistryError } from './errors';
import type { Image } from './image';
import { isStreamingLayer, uncompressedOf, type Layer, type LayerOrigin } from './layer';
import { parseManifest } from './parse-manifest';

/** An index (or Docker manifest list): its own bytes and the artifacts it names. */
export interface IndexSource {
  rawManifest(): Promise<Buffer>;
  mediaType(): Promise<string>;
  digest(): Promise<Digest>;
  /** The children, in the index's order (images or nested indexes). */
  children(): Promise<Artifact[]>;
}

export type Artifact = { kind: 'image'; image: Image } | { kind: 'index'; index: IndexSource };

/** An index from its bytes and its children, in the index's order. */
export function indexFrom(rawManifest: Buffer, children: Artifact[], mediaType?: string): IndexSource {
  const parsed = parseManifest(rawManifest, mediaType);
  if (!parsed.isIndex) throw new RegistryError('MANIFEST_INVALID', 'expected an index', { mediaType: parsed.mediaType });
  return {
    rawManifest: async () => rawManifest,
    mediaType: async () => parsed.mediaType,
    digest: async () => parsed.digest,
    children: async () => children,
  };
}

/** Where an artifact goes in the sink: a repository, and a tag unless it is stored by digest only. */
export interface CopyTarget {
  repository: string;
  tag?: string;
}

/** One thing a source yields: an artifact and every name it gets. */
export interface CopyItem {
  artifact: Artifact;
  targets: CopyTarget[];
}

/** A blob as the sink receives it: known facts and a body that can be opened (again, on a retry). */
export interface SinkBlob {
  /** Undefined for a layer still being produced (a commit's or an import's new layer). */
  digest?: Digest;
  size?: number;
  mediaType: string;
  open(): Promise<Readable>;
}

export type BlobOutcome = 'uploaded' | 'mounted' | 'exists';

/**
 * A store images are copied into (the local registry, a remote registry, an archive). It takes
 * blobs, then manifests, then tags; `copy` calls it in that order and never otherwise.
 */
export interface ImageSink {
  /** The store this sink writes (a layer whose origin names it can be mounted, not copied). */
  readonly store?: string;
  /**
   * Store a blob in `repository`: skip it when the repository has it, mount it from one of
   * `storedIn` (repositories of this sink the copy already put it in) or from wherever the sink
   * knows, else upload it and check its digest. Returns what happened and the stored digest/size.
   */
  putBlob(repository: string, blob: SinkBlob, storedIn: readonly string[]): Promise<{ outcome: BlobOutcome; digest: Digest; size: number }>;
  putManifest(repository: string, digest: Digest, bytes: Buffer, mediaType: string): Promise<void>;
  tag(repository: string, tag: string, digest: Digest): Promise<void>;
  /** A layer's uncompressed size, learnt while it was verified (for `docker images`). */
  layerUnpacked?(digest: Digest, uncompressedSize: number): Promise<void>;
}

export interface CopyProgress {
  phase: 'blobs' | 'manifests' | 'tags' | 'done';
  blobs: { done: number; total: number };
  bytes: { done: number; total: number };
  manifests: { done: number; total: number };
}

export interface CopyOptions {
  onProgress?: (p: CopyProgress) => void;
  /** Aborts between blobs and manifests (a cancelled job); the sink is left without tags. */
  signal?: AbortSignal;
  /**
   * Decompress every layer on its way and check it against the config's diff_id (untrusted
   * sources: archives). Registry-to-registry copies trust the digests the sink checks.
   */
  verifyDiffIds?: boolean;
  /** Blobs stored at once (a remote sink benefits; the local store writes to one disk). */
  concurrency?: number;
  /** Called with the bytes of each blob as they pass (for throttled progress of big layers). */
  onBytes?: (n: number) => void;
  /**
   * Manifests and tags only, no blobs (a pull-through cache: each blob is fetched on its first
   * GET); the sink must accept manifests whose blobs it does not hold yet.
   */
  manifestsOnly?: boolean;
}

export interface CopiedArtifact {
  digest: Digest;
  mediaType: string;
  /** For an image, its config digest (Docker's image ID). */
  configDigest?: Digest;
  targets: CopyTarget[];
  /** The images it holds (itself for an image; its children, recursively, for an index). */
  images: Array<{ digest: Digest; configDigest: Digest; layers: Array<{ digest: Digest; size: number }> }>;
}

export interface CopyReport {
  artifacts: CopiedArtifact[];
  /** uploaded and exists: distinct blobs; mounted: links made into repositories. */
  blobs: Record<BlobOutcome, number>;
  bytes: number;
}

const MAX_INDEX_DEPTH = 4;

interface PlannedImage {
  image: Image;
  layers: Layer[];
}

interface PlannedArtifact {
  item: CopyItem;
  /** Every manifest of the artifact, children before parents, the artifact's own last. */
  manifests: Array<{ image?: PlannedImage; index?: IndexSource }>;
  images: PlannedImage[];
}

async function plan(item: CopyItem): Promise<PlannedArtifact> {
  const out: PlannedArtifact = { item, manifests: [], images: [] };
  const walk = async (a: Artifact, depth: number): Promise<void> => {
    if (depth > MAX_INDEX_DEPTH) throw new RegistryError('MANIFEST_INVALID', 'index nesting too deep');
    if (a.kind === 'image') {
      const p = { image: a.image, layers: await a.image.layers() };
      out.images.push(p);
      out.manifests.push({ image: p });
      return;
    }
    for (const child of await a.index.children()) await walk(child, depth + 1);
    out.manifests.push({ index: a.index });
  };
  await walk(item.artifact, 0);
  return out;
}

function aborted(signal?: AbortSignal): void {
  // The job's own reason (a cancellation error) surfaces as the copy's failure.
  signal?.throwIfAborted();
}

/**
 * Copy artifacts into a sink, in the crash-safe order. Blobs are stored once per repository
 * (mounted between the copy's repositories), layers verified when asked, manifests by digest, tags
 * last. Returns what was stored.
 */
export async function copy(items: CopyItem[], sink: ImageSink, options: CopyOptions = {}): Promise<CopyReport> {
  const planned: PlannedArtifact[] = [];
  for (const item of items) {
    if (!item.targets.length) throw new RegistryError('INVALID_REQUEST', 'a copy needs at least one target');
    planned.push(await plan(item));
  }

  const progress: CopyProgress = {
    phase: 'blobs',
    blobs: { done: 0, total: 0 },
    bytes: { done: 0, total: 0 },
    manifests: { done: 0, total: 0 },
  };
  const report = () => options.onProgress?.(structuredClone(progress));
  const counts: Record<BlobOutcome, number> = { uploaded: 0, mounted: 0, exists: 0 };

  // Known blobs once each, with the repositories that need them; totals for progress.
  const known = new Map<Digest, { size: number; repos: Set<string> }>();
  for (const p of planned) {
    const repos = p.item.targets.map((t) => t.repository);
    for (const img of options.manifestsOnly ? [] : p.images) {
      const add = (d: Digest, size: number) => {
        const k = known.get(d) ?? { size, repos: new Set<string>() };
        for (const r of repos) k.repos.add(r);
        known.set(d, k);
      };
      for (const l of img.layers) if (!isStreamingLayer(l)) add(await l.digest(), await l.size());
      // A config that waits for a streamed layer is not known before it is stored.
      if (!img.layers.some(isStreamingLayer)) add(await img.image.configName(), (await img.image.rawConfigFile()).length);
    }
    for (const m of p.manifests) progress.manifests.total += m.index || m.image ? repos.length : 0;
  }
  progress.blobs.total = known.size;
  progress.bytes.total = [...known.values()].reduce((a, b) => a + b.size, 0);
  report();

  // Where each digest is already stored by this copy (a mount source for the next repository).
  const storedIn = new Map<Digest, string[]>();
  const counted = new Set<Digest>();
  const reading = new Set<Digest>();
  let lastReport = 0;
  const put = async (
    repository: string,
    blob: SinkBlob,
    diffId?: Digest,
    origin?: LayerOrigin,
  ): Promise<{ digest: Digest; size: number }> => {
    aborted(options.signal);
    const sources = blob.digest ? [...(storedIn.get(blob.digest) ?? [])] : [];
    if (blob.digest && sources.includes(repository)) return { digest: blob.digest, size: blob.size ?? 0 };
    // A layer this sink's store already holds elsewhere: linked, not copied.
    if (origin && sink.store && origin.store === sink.store && !sources.includes(origin.repository)) sources.push(origin.repository);
    let unpacked: Promise<{ digest: Digest; size: number }> | undefined;
    const body: SinkBlob = {
      ...blob,
      open: async () => {
        const opened = await blob.open();
        // Bytes of known blobs count as they pass (the first read only: a verifying re-read does not).
        const counts = !!blob.digest && known.has(blob.digest) && !counted.has(blob.digest) && !reading.has(blob.digest);
        if (counts) reading.add(blob.digest!);
        // Counted in a transform: a 'data' listener on the source would start it flowing before
        // the sink reads, and lose what passed meanwhile.
        const s = opened.pipe(
          new Transform({
            transform(c: Buffer, _enc, done) {
              options.onBytes?.(c.length);
              if (counts) {
                progress.bytes.done += c.length;
                if (Date.now() - lastReport >= 250) {
                  lastReport = Date.now();
                  report();
                }
              }
              done(null, c);
            },
          }),
        );
        opened.on('error', (e) => s.destroy(e));
        // A sink that gives up destroys what it reads: the source (a file, a socket) goes with it.
        s.on('close', () => {
          if (!opened.readableEnded) opened.destroy();
        });
        if (!diffId || !options.verifyDiffIds) return s;
        // Tee: one side to the sink, one decompressed and hashed; a failure on either stops both.
        const toSink = new PassThrough({ highWaterMark: 1 << 20 });
        const toCheck = new PassThrough({ highWaterMark: 1 << 20 });
        const stop = (e: Error) => {
          s.destroy(e);
          toSink.destroy(e);
          toCheck.destroy(e);
        };
        s.on('error', stop);
        s.pipe(toSink);
        s.pipe(toCheck);
        const hash = new DigestStream();
        unpacked = uncompressedOf(toCheck)
          .then((u) =>
            pipeline(u, hash, async (src: AsyncIterable<Buffer>) => {
              for await (const _ of src) {
                // drain: only the digest and the count matter
              }
            }),
          )
          .then(() => ({ digest: hash.digest(), size: hash.size }));
        unpacked.catch((e: Error) => stop(e));
        return toSink;
      },
    };
    const r = await sink.putBlob(repository, body, sources);
    // The sink had it (or mounted it) and never read the source: the source's own bytes are still
    // checked against the diff_id its config claims, as an untrusted source's must be.
    if (!unpacked && diffId && options.verifyDiffIds) {
      const drained = await body.open();
      await pipeline(drained, async (src: AsyncIterable<Buffer>) => {
        for await (const _ of src) {
          // drain through the tee above
        }
      });
    }
    if (unpacked) {
      const u = await unpacked;
      if (u.digest !== diffId) {
        throw new RegistryError('DIGEST_INVALID', `layer ${r.digest} does not unpack to the config's diff_id`, {
          layer: r.digest,
          expected: diffId,
          actual: u.digest,
        });
      }
      await sink.layerUnpacked?.(r.digest, u.size);
    }
    // Uploads and skips count distinct blobs (a blob is uploaded at most once a copy); mounts count links.
    if (r.outcome === 'mounted' || !storedIn.has(r.digest)) counts[r.outcome]++;
    storedIn.set(r.digest, [...(storedIn.get(r.digest) ?? []), repository]);
    if (!counted.has(r.digest) && known.has(r.digest)) {
      counted.add(r.digest);
      progress.blobs.done++;
      // A skip or mount moves the whole blob at once; an upload counted its bytes as they passed.
      if (!reading.has(r.digest)) progress.bytes.done += r.size;
      report();
    }
    return r;
  };

  // 1. Blobs: each image's layers, then its config (whose diff_ids a streamed layer completes).
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const results: CopiedArtifact[] = [];
  for (const p of planned) {
    const repos = [...new Set(p.item.targets.map((t) => t.repository))];
    const images: CopiedArtifact['images'] = [];
    for (const img of options.manifestsOnly ? [] : p.images) {
      const config = options.verifyDiffIds ? await diffIdsOf(img) : img.layers.map(() => undefined);
      const layerInfo: Array<{ digest: Digest; size: number }> = new Array(img.layers.length);
      const jobs = img.layers.map((l, i) => async () => {
        // A streamed layer is produced once, into the first repository; the others mount it.
        const streaming = isStreamingLayer(l);
        let digest = streaming ? undefined : await l.digest();
        let size = streaming ? undefined : await l.size();
        const mediaType = await l.mediaType();
        for (const repo of repos) {
          const r = await put(repo, { digest, size, mediaType, open: () => l.compressed() }, config[i], l.origin);
          if (isStreamingLayer(l) && digest === undefined) {
            // What the producer hashed is what the sink stored, or the layer is refused.
            const f = await l.facts();
            if (f.digest !== r.digest)
              throw new RegistryError('DIGEST_INVALID', 'the stored layer does not match the written one', {
                written: f.digest,
                stored: r.digest,
              });
            if (f.uncompressedSize !== undefined) await sink.layerUnpacked?.(r.digest, f.uncompressedSize);
          }
          digest = r.digest;
          size = r.size;
        }
        layerInfo[i] = { digest: digest!, size: size! };
      });
      await runLimited(jobs, concurrency);
      const rawConfig = await img.image.rawConfigFile();
      const configDigest = await img.image.configName();
      for (const repo of repos) {
        await put(repo, {
          digest: configDigest,
          size: rawConfig.length,
          mediaType: 'application/octet-stream',
          open: async () => Readable.from([rawConfig]),
        });
      }
      images.push({ digest: await img.image.digest(), configDigest, layers: layerInfo });
    }
    results.push({ digest: '' as Digest, mediaType: '', targets: p.item.targets, images });
  }

  // 2. Manifests by digest, children first, into every repository of the artifact.
  progress.phase = 'manifests';
  report();
  for (const [i, p] of planned.entries()) {
    const repos = [...new Set(p.item.targets.map((t) => t.repository))];
    for (const m of p.manifests) {
      const src = m.image ? m.image.image : m.index!;
      const bytes = await src.rawManifest();
      const mediaType = await src.mediaType();
      const digest = await src.digest();
      if (m.index) checkIndex(bytes, mediaType);
      for (const repo of repos) {
        aborted(options.signal);
        await sink.putManifest(repo, digest, bytes, mediaType);
        progress.manifests.done++;
        report();
      }
      // The artifact's own manifest is the last one.
      results[i].digest = digest;
      results[i].mediaType = mediaType;
    }
    if (p.item.artifact.kind === 'image') results[i].configDigest = results[i].images[0]?.configDigest;
  }

  // 3. Tags, last.
  progress.phase = 'tags';
  report();
  for (const [i, p] of planned.entries()) {
    for (const t of p.item.targets) {
      if (t.tag === undefined) continue;
      aborted(options.signal);
      await sink.tag(t.repository, t.tag, results[i].digest);
    }
  }
  progress.phase = 'done';
  report();
  return { artifacts: results, blobs: counts, bytes: progress.bytes.total };
}

/** The config's diff_ids, one per layer (a mismatch in count is a broken image). */
async function diffIdsOf(img: PlannedImage): Promise<Array<Digest | undefined>> {
  if (img.layers.some(isStreamingLayer)) return img.layers.map(() => undefined);
  const ids = (await img.image.configFile()).rootfs.diff_ids as Digest[];
  if (ids.length !== img.layers.length) {
    throw new RegistryError('MANIFEST_INVALID', 'manifest layers and config diff_ids differ in number', {
      layers: img.layers.length,
      diffIds: ids.length,
    });
  }
  return ids;
}

function checkIndex(bytes: Buffer, mediaType: string): void {
  if (!parseManifest(bytes, mediaType).isIndex) throw new RegistryError('MANIFEST_INVALID', 'expected an index');
}

async function runLimited(jobs: Array<() => Promise<void>>, limit: number): Promise<void> {
  const queue = [...jobs];
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await job();
  };
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
}
