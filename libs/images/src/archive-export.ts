// `docker save` = copy(local, archive): references -> one tarball in Docker 25+'s combined
// docker-archive + OCI layout (libs/oci's ArchiveSink), each blob once, streamed from the blob
// service into storage; nothing is held in memory but manifests and configs.
import { spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DigestStream,
  RegistryError,
  imageFromBlobs,
  parseManifest,
  writeArchive,
  type ArchiveEntry,
  type Digest,
  type ImageIndex,
  type Platform,
  parseLocalReference,
  ByteCounter,
  manifestReference,
  throughProcess,
} from '@stevedore/oci';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import type { StorageDriver } from '@stevedore/storage';
import { openBlobStream } from './blob-stream';
import { archiveTagFor } from './image-reference';
import { platformString } from './image-inspect';

export type ExportCompression = 'none' | 'gzip' | 'zstd';

const MEDIA_TYPES: Record<ExportCompression, string> = {
  none: 'application/x-tar',
  gzip: 'application/gzip',
  zstd: 'application/zstd',
};

/** The archive's file name suffix for its compression (`.tar`, `.tar.gz`, `.tar.zst`). */
export function archiveSuffix(compression: ExportCompression): string {
  return compression === 'gzip' ? '.tar.gz' : compression === 'zstd' ? '.tar.zst' : '.tar';
}

// zstd: Node 20's zlib has none, so the archive goes through the system's `zstd`, the same tool
// libs/oci's decompressStream reads zstd input with (the npm encoders are native builds or wasm ports).
let zstdFound: boolean | undefined;

/** Refuses a zstd export up front when this host has no `zstd` to compress with. */
export function assertCompressionAvailable(compression: ExportCompression): void {
  if (compression !== 'zstd') return;
  zstdFound ??= spawnSync('zstd', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!zstdFound)
    throw new RegistryError(
      'UNSUPPORTED',
      'zstd compression needs the zstd program, which this server does not have; use gzip or none',
      { compression },
      501,
    );
}

/** `input` compressed by `zstd` (level 3, Docker's default); a failure of either side fails the stream. */
export function zstdCompress(input: Readable): Readable {
  return throughProcess('zstd', ['-q', '-c', '-3', '-T0'], input, {
    spawnError: (e) => e,
    exitError: (code, stderr) => new Error(`zstd exited with ${code}: ${stderr.slice(0, 300)}`),
  });
}

export interface ExportSpec {
  /** `repo` (every tag, as docker save does), `repo:tag`, `repo@digest`. */
  references: string[];
  compression: ExportCompression;
  /** For a multi-platform index: the platform to save (`os/arch[/variant]`), default linux/amd64. */
  platform?: string;
}

export interface PlannedImage {
  name: string;
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
  tags: string[];
  /** Bytes the archive will carry for this image: manifest, config, layers. */
  size: number;
  blobs: Array<{ digest: Digest; size: number }>;
}

export interface ExportProgress {
  phase: 'planning' | 'writing' | 'done';
  bytes: number;
  totalBytes: number;
  percent: number;
}

export interface ExportResult {
  archive: { path: string; size: number; digest: Digest; compression: ExportCompression; mediaType: string };
  images: Array<{ name: string; digest: Digest; tags: string[] }>;
  /** Distinct blobs written (configs, layers, manifests), each once. */
  blobs: number;
  /** Blob bytes written before compression. */
  bytes: number;
}

function parsePlatform(p: string): Platform {
  const [os, architecture, variant] = p.split('/');
  if (!os || !architecture)
    throw new RegistryError('INVALID_REQUEST', `platform must be os/arch[/variant], got "${p.slice(0, 100)}"`, { platform: p });
  return variant ? { os, architecture, variant } : { os, architecture };
}

async function allTags(metadata: MetadataService, name: string): Promise<string[]> {
  const out: string[] = [];
  let last: string | undefined;
  for (;;) {
    const page = await metadata.listTags(name, 1000, last);
    out.push(...page.items);
    if (!page.next) return out;
    last = page.next;
  }
}

/** Resolve every reference now, so a bad one fails the request before a job is queued. */
export async function planExport(metadata: MetadataService, spec: ExportSpec): Promise<PlannedImage[]> {
  if (!Array.isArray(spec.references) || spec.references.length === 0) {
    throw new RegistryError('INVALID_REQUEST', 'name at least one image reference to save', { references: spec.references });
  }
  const platform = parsePlatform(spec.platform ?? 'linux/amd64');
  const byKey = new Map<string, PlannedImage>();
  const add = async (name: string, reference: string, tag?: string): Promise<void> => {
    let m = await metadata.getManifest(manifestReference(name, reference));
    let parsed = parseManifest(m.bytes, m.mediaType);
    if (parsed.isIndex) {
      // docker save of a multi-platform image without the containerd store saves one platform.
      const index = parsed.parsed as ImageIndex;
      const child = index.manifests.find(
        (d) =>
          d.platform &&
          d.platform.os === platform.os &&
          d.platform.architecture === platform.architecture &&
          (!platform.variant || d.platform.variant === platform.variant),
      );
      if (!child) {
        throw new RegistryError('NOT_FOUND', `${name}@${m.digest} has no manifest for ${platformString(platform)}`, {
          platforms: index.manifests.flatMap((d) => (d.platform ? [platformString(d.platform)] : [])),
        });
      }
      m = await metadata.getManifest({ name, digest: child.digest as Digest });
      parsed = parseManifest(m.bytes, m.mediaType);
      if (parsed.isIndex) throw new RegistryError('UNSUPPORTED', 'nested indexes cannot be saved', { digest: m.digest });
    }
    const key = `${name}@${m.digest}`;
    let p = byKey.get(key);
    if (!p) {
      const blobs = parsed.references.map((d) => ({ digest: d.digest, size: d.size }));
      p = {
        name,
        digest: m.digest,
        mediaType: m.mediaType,
        bytes: m.bytes,
        tags: [],
        size: m.bytes.length + blobs.reduce((a, b) => a + b.size, 0),
        blobs,
      };
      byKey.set(key, p);
    }
    if (tag && !p.tags.includes(tag)) p.tags.push(tag);
  };
  for (const text of spec.references) {
    const ref = parseLocalReference(text);
    if (ref.digest) await add(ref.name, ref.digest, ref.tag);
    else if (ref.tag) await add(ref.name, ref.tag, ref.tag);
    else {
      const tags = await allTags(metadata, ref.name);
      if (!tags.length) throw new RegistryError('NOT_FOUND', `repository ${ref.name} has no tags to save`, { name: ref.name });
      for (const t of tags) await add(ref.name, t, t);
    }
  }
  return [...byKey.values()];
}

/** Write the archive to `path` in storage; returns what was written. */
export async function writeExport(
  deps: { blobs: BlobService; storage: StorageDriver },
  plan: PlannedImage[],
  options: { path: string; compression: ExportCompression; onProgress?: (p: ExportProgress) => void },
): Promise<ExportResult> {
  const seen = new Set<string>();
  let totalBytes = 0;
  for (const p of plan) {
    for (const b of [{ digest: p.digest, size: p.bytes.length }, ...p.blobs]) {
      if (seen.has(b.digest)) continue;
      seen.add(b.digest);
      totalBytes += b.size;
    }
  }
  let bytes = 0;
  let lastReport = 0;
  const report = (phase: ExportProgress['phase'], force = false): void => {
    const now = Date.now();
    if (!force && now - lastReport < 500) return;
    lastReport = now;
    options.onProgress?.({ phase, bytes, totalBytes, percent: totalBytes ? Math.min(100, Math.floor((bytes / totalBytes) * 100)) : 100 });
  };
  const entries: ArchiveEntry[] = plan.map((p) => ({
    image: imageFromBlobs({
      rawManifest: p.bytes,
      openBlob: async (d) => {
        const stream = await openBlobStream(deps.blobs, p.name, d.digest);
        const counter = new ByteCounter((n) => {
          bytes += n;
          report('writing');
        });
        return stream.pipe(counter) as Readable;
      },
    }),
    tags: p.tags.map((t) => archiveTagFor(p.name, t)),
  }));
  report('writing', true);
  const tarball = writeArchive(entries, { gzip: options.compression === 'gzip' });
  const archive = options.compression === 'zstd' ? zstdCompress(tarball) : tarball;
  const digest = new DigestStream();
  const [, size] = await Promise.all([pipeline(archive, digest), deps.storage.writeStream(options.path, digest)]).catch(
    async (e: unknown) => {
      archive.destroy();
      tarball.destroy();
      await deps.storage.delete(options.path).catch(() => undefined);
      throw e;
    },
  );
  bytes = totalBytes;
  report('done', true);
  return {
    archive: {
      path: options.path,
      size,
      digest: digest.digest(),
      compression: options.compression,
      mediaType: MEDIA_TYPES[options.compression],
    },
    images: plan.map((p) => ({ name: p.name, digest: p.digest, tags: p.tags })),
    blobs: seen.size,
    bytes: totalBytes,
  };
}
