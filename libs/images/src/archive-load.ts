// `docker load`: a tarball (plain, gzip, bzip2, xz or zstd; docker-archive of any age or OCI layout)
// into the registry. Order makes a failure harmless: everything is checked and every blob stored
// and verified first, then manifests (by digest), and tags last, so an archive that fails anywhere
// leaves no tag behind (its stored blobs are unreferenced and garbage collection reclaims them).
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DigestStream,
  RegistryError,
  parseImageConfig,
  readArchive,
  repositoryNameOk,
  type Archive,
  type Compression,
  type Digest,
  type Image,
} from '@stevedore/oci';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import { ByteCounter, ByteLimit, decompress } from './decompress';
import { parseImageRef, repositoryForArchiveName } from './image-reference';
import type { LayerSizeCache } from './layer-size-cache';

export interface LoadOptions {
  /** Directory for the spooled archive (large; on the data disk). */
  spoolDir: string;
  /** Most bytes accepted after decompression. */
  maxBytes: number;
  /** Where images the archive does not name go (by digest); without it they are skipped. */
  repository?: string;
  onProgress?: (p: LoadProgress) => void;
}

export interface LoadProgress {
  phase: 'reading' | 'verifying' | 'storing' | 'tagging' | 'done';
  bytes: number;
  totalBytes: number;
  percent: number;
}

export interface LoadedImage {
  digest: Digest;
  /** Config digest (Docker's image ID). */
  id: Digest;
  repositories: string[];
  tags: string[];
  layers: number;
  size: number;
}

export interface LoadReport {
  format: Archive['format'];
  compression: Compression;
  images: LoadedImage[];
  /** `docker load`'s lines: `Loaded image: NAME:TAG` (or `Loaded image ID: ...`). */
  loaded: string[];
  /** Images without a name and no `repository` to put them in. */
  skipped: Array<{ id: Digest; reason: string }>;
  blobs: { total: number; stored: number; existing: number };
  bytes: number;
}

/** Errors from the tar reader and streams become a clear refusal rather than an INTERNAL. */
function refusal(e: unknown): RegistryError {
  if (RegistryError.is(e)) return e;
  const msg = (e as Error)?.message ?? String(e);
  return new RegistryError('INVALID_REQUEST', `archive is not a readable tarball (corrupt or truncated): ${msg.slice(0, 300)}`);
}

interface Target {
  name: string;
  tag?: string;
}

interface PlannedLoad {
  image: Image;
  digest: Digest;
  id: Digest;
  mediaType: string;
  rawManifest: Buffer;
  rawConfig: Buffer;
  targets: Target[];
}

export async function loadArchive(
  deps: { blobs: BlobService; metadata: MetadataService; sizes: LayerSizeCache },
  input: Readable,
  options: LoadOptions,
): Promise<LoadReport> {
  if (options.repository) parseImageRef(options.repository);
  let read = 0;
  const progress = (phase: LoadProgress['phase'], bytes: number, totalBytes: number) =>
    options.onProgress?.({ phase, bytes, totalBytes, percent: totalBytes ? Math.min(100, Math.floor((bytes / totalBytes) * 100)) : 100 });
  let lastReport = 0;
  const throttled = (phase: LoadProgress['phase'], bytes: number, total: number) => {
    const now = Date.now();
    if (now - lastReport >= 500) {
      lastReport = now;
      progress(phase, bytes, total);
    }
  };

  let archive: Archive;
  let compression: Compression;
  // A failure upstream of the tar reader (limit, decompressor, storage) ends the reader's input
  // instead of erroring it, and is reported in place of the reader's "unexpected end": the reader
  // may not be listening for errors at every moment.
  let upstream: Error | undefined;
  try {
    const d = await decompress(input);
    compression = d.compression;
    const fused = new PassThrough();
    const stop = (e: Error): void => {
      upstream ??= e;
      fused.end();
    };
    const limited = new ByteLimit(options.maxBytes, 'the archive (uncompressed)');
    const counted = new ByteCounter((n) => throttled('reading', (read += n), 0));
    for (const st of [d.stream, limited, counted]) st.on('error', stop);
    d.stream.pipe(limited).pipe(counted).pipe(fused);
    archive = await readArchive(fused, { spoolDir: options.spoolDir });
  } catch (e) {
    throw refusal(upstream ?? e);
  }
  if (upstream) {
    await archive.close();
    throw refusal(upstream);
  }
  try {
    return await storeArchive(deps, archive, compression, options, progress, throttled);
  } finally {
    await archive.close();
  }
}

async function storeArchive(
  deps: { blobs: BlobService; metadata: MetadataService; sizes: LayerSizeCache },
  archive: Archive,
  compression: Compression,
  options: LoadOptions,
  progress: (phase: LoadProgress['phase'], bytes: number, total: number) => void,
  throttled: (phase: LoadProgress['phase'], bytes: number, total: number) => void,
): Promise<LoadReport> {
  // 1. Check: names, configs, layer counts, every blob present. Nothing is stored yet.
  const plans: PlannedLoad[] = [];
  const skipped: LoadReport['skipped'] = [];
  const blobSizes = new Map<string, number>();
  for (const entry of archive.images) {
    const image = entry.image;
    let rawConfig: Buffer;
    let digest: Digest;
    try {
      rawConfig = await image.rawConfigFile();
      parseImageConfig(rawConfig);
      digest = await image.digest();
      for (const l of await image.layers()) {
        (await l.compressed()).destroy();
        blobSizes.set(await l.digest(), await l.size());
      }
    } catch (e) {
      throw refusal(e);
    }
    const id = await image.configName();
    blobSizes.set(id, rawConfig.length);
    const targets: Target[] = [];
    for (const ref of entry.tags) {
      if (ref.tag === undefined) continue;
      const name = repositoryForArchiveName(ref);
      if (!repositoryNameOk(name)) throw new RegistryError('NAME_INVALID', `archive names an image "${name}" that is not a valid repository name`, { name });
      if (!targets.some((t) => t.name === name && t.tag === ref.tag)) targets.push({ name, tag: ref.tag });
    }
    if (!targets.length) {
      if (options.repository) targets.push({ name: options.repository });
      else {
        skipped.push({ id, reason: 'the archive gives it no name; pass `repository` to load unnamed images' });
        continue;
      }
    }
    const existing = plans.find((p) => p.digest === digest);
    if (existing) {
      for (const t of targets) if (!existing.targets.some((x) => x.name === t.name && x.tag === t.tag)) existing.targets.push(t);
      continue;
    }
    plans.push({ image, digest, id, mediaType: await image.mediaType(), rawManifest: await image.rawManifest(), rawConfig, targets });
  }
  const totalBytes = [...blobSizes.values()].reduce((a, b) => a + b, 0);

  // 2. Blobs, each verified against its digest (and each layer against its diff_id) on the way in.
  let bytes = 0;
  let stored = 0;
  let existing = 0;
  const done = new Map<string, string>(); // digest -> repository holding it
  for (const p of plans) {
    const repos = [...new Set(p.targets.map((t) => t.name))];
    const config = parseImageConfig(p.rawConfig);
    const layers = await p.image.layers();
    const blobsOf: Array<{ digest: Digest; open: () => Promise<Readable>; size: number; diffId?: Digest }> = [
      { digest: p.id, open: async () => Readable.from([p.rawConfig]), size: p.rawConfig.length },
    ];
    for (const [i, l] of layers.entries()) blobsOf.push({ digest: await l.digest(), open: () => l.compressed(), size: await l.size(), diffId: config.rootfs.diff_ids[i] });
    for (const b of blobsOf) {
      const first = repos[0];
      const holder = done.get(b.digest);
      if (holder) {
        for (const r of repos) if (!(await deps.blobs.stat(r, b.digest))) await linkFrom(deps.blobs, r, holder, b.digest);
        continue;
      }
      const had = await deps.blobs.exists(b.digest);
      try {
        await storeBlob(deps, first, b, (n) => throttled('storing', (bytes += n), totalBytes));
      } catch (e) {
        throw refusal(e);
      }
      if (had) existing++;
      else stored++;
      done.set(b.digest, first);
      for (const r of repos.slice(1)) await linkFrom(deps.blobs, r, first, b.digest);
    }
  }

  // 3. Manifests by digest, into every repository that will hold a tag on them.
  progress('tagging', totalBytes, totalBytes);
  for (const p of plans) {
    for (const r of new Set(p.targets.map((t) => t.name))) await deps.metadata.putManifest(r, p.digest, p.rawManifest, p.mediaType);
  }
  // 4. Tags last.
  const loaded: string[] = [];
  for (const p of plans) {
    for (const t of p.targets) {
      if (t.tag === undefined) {
        loaded.push(`Loaded image ID: ${t.name}@${p.digest}`);
        continue;
      }
      await deps.metadata.tagManifest(t.name, t.tag, p.digest);
      loaded.push(`Loaded image: ${t.name}:${t.tag}`);
    }
  }
  progress('done', totalBytes, totalBytes);
  return {
    format: archive.format,
    compression,
    images: plans.map((p) => ({
      digest: p.digest,
      id: p.id,
      repositories: [...new Set(p.targets.map((t) => t.name))],
      tags: p.targets.filter((t) => t.tag !== undefined).map((t) => `${t.name}:${t.tag}`),
      layers: parseImageConfig(p.rawConfig).rootfs.diff_ids.length,
      size: p.rawManifest.length + p.rawConfig.length,
    })),
    loaded,
    skipped,
    blobs: { total: done.size, stored, existing },
    bytes: totalBytes,
  };
}

async function linkFrom(blobs: BlobService, to: string, from: string, digest: Digest): Promise<void> {
  if (!(await blobs.mount(to, from, digest))) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} vanished while loading`, { digest });
}

/**
 * Store one blob; the blob service checks the digest. A layer is also decompressed as it passes and
 * its diff_id checked, so a config that lies about its layers is refused; the uncompressed size is
 * remembered for `docker images`.
 */
async function storeBlob(
  deps: { blobs: BlobService; sizes: LayerSizeCache },
  name: string,
  b: { digest: Digest; open: () => Promise<Readable>; size: number; diffId?: Digest },
  onBytes: (n: number) => void,
): Promise<void> {
  const source = (await b.open()).pipe(new ByteCounter(onBytes));
  const toStore = new PassThrough({ highWaterMark: 1 << 20 });
  const toCheck = new PassThrough({ highWaterMark: 1 << 20 });
  // One failing consumer must stop the other, or the tee would wait on it forever.
  const abort = (e: Error): void => {
    source.destroy(e);
    toStore.destroy(e);
    toCheck.destroy(e);
  };
  source.on('error', abort);
  source.pipe(toStore);
  const guard = <T>(p: Promise<T>): Promise<T> =>
    p.catch((e: Error) => {
      abort(e);
      throw e;
    });
  const checks: Array<Promise<unknown>> = [guard(deps.blobs.putBlob(name, toStore, b.digest, b.size))];
  let uncompressed: DigestStream | undefined;
  if (b.diffId) {
    source.pipe(toCheck);
    const digest = (uncompressed = new DigestStream());
    checks.push(
      guard(
        decompress(toCheck).then(({ stream }) =>
          pipeline(stream, digest, async (src: AsyncIterable<Buffer>) => {
            for await (const _ of src) {
              // drain: only the digest and the count matter
            }
          }),
        ),
      ),
    );
  }
  const results = await Promise.allSettled(checks);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    source.destroy();
    throw (failed as PromiseRejectedResult).reason;
  }
  if (uncompressed && b.diffId) {
    if (uncompressed.digest() !== b.diffId) {
      throw new RegistryError('DIGEST_INVALID', `layer ${b.digest} does not unpack to the config's diff_id`, { layer: b.digest, expected: b.diffId, actual: uncompressed.digest() });
    }
    await deps.sizes.set(b.digest, uncompressed.size);
  }
}
