// `docker load` = copy(archive, local): a tarball (plain, gzip, bzip2, xz or zstd; docker-archive of
// any age or OCI layout) into the registry. Everything is checked first (names, configs, layer
// counts, every blob present); then libs/oci's copy stores and verifies every blob, the manifests
// by digest and the tags last, so an archive that fails anywhere leaves no tag behind (its stored
// blobs are unreferenced and garbage collection reclaims them).
import { PassThrough, type Readable } from 'node:stream';
import {
  RegistryError,
  copy,
  parseImageConfig,
  readArchive,
  repositoryNameOk,
  type Archive,
  type Compression,
  type Digest,
  type Image,
  parseLocalReference,
  ByteCounter,
  ByteLimit,
  decompressStream,
} from '@stevedore/oci';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import { repositoryForArchiveName } from './image-reference';
import type { LayerSizeCache } from './layer-size-cache';
import { LocalImageSink } from './local-images';

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
  if (options.repository) parseLocalReference(options.repository);
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
    const d = await decompressStream(input);
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
      if (!repositoryNameOk(name))
        throw new RegistryError('NAME_INVALID', `archive names an image "${name}" that is not a valid repository name`, { name });
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

  // 2-4. One copy: every blob verified on the way in (digest by the blob service, each layer
  // against its diff_id here), manifests by digest, tags last.
  let bytes = 0;
  const copied = await copy(
    plans.map((p) => ({
      artifact: { kind: 'image' as const, image: p.image },
      targets: p.targets.map((t) => (t.tag === undefined ? { repository: t.name } : { repository: t.name, tag: t.tag })),
    })),
    new LocalImageSink(deps.blobs, deps.metadata, deps.sizes),
    {
      verifyDiffIds: true,
      onBytes: (n) => throttled('storing', (bytes += n), totalBytes),
      onProgress: (p) => {
        if (p.phase === 'tags') progress('tagging', totalBytes, totalBytes);
      },
    },
  ).catch((e: unknown) => Promise.reject(refusal(e)));
  const loaded: string[] = [];
  for (const p of plans) {
    for (const t of p.targets)
      loaded.push(t.tag === undefined ? `Loaded image ID: ${t.name}@${p.digest}` : `Loaded image: ${t.name}:${t.tag}`);
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
    blobs: { total: blobSizes.size, stored: copied.blobs.uploaded, existing: copied.blobs.exists },
    bytes: totalBytes,
  };
}
