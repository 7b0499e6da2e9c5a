// Read `docker save` tarballs: Docker 25+ (docker-archive + OCI layout sharing blobs/), older
// docker-archives (`<id>/layer.tar`, as skopeo writes), and plain OCI layout tarballs. The tar is
// spooled to a caller-given directory because manifest.json may come after the blobs it names;
// JSON stays in memory, layers are streamed from the spool.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { Digester, isDigest, type Digest } from './digest';
import { RegistryError } from './errors';
import { decompressStream, detectCompression, peek, type Compression } from './compression';
import { buildImage } from './build-image';
import { imageFromBlobs, parseImageConfig, type Image } from './image';
import { layerFrom } from './layer';
import { MediaTypes } from './media-types';
import { parseManifest } from './parse-manifest';
import { parseReference, type Reference } from './reference';
import type { Descriptor, OciIndex } from './schemas';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, type DockerArchiveManifestEntry } from './archive-writer';

export interface ArchiveImage {
  image: Image;
  /** Tags as parsed references (entries that do not parse are only in repoTags). */
  tags: Reference[];
  /** Tags as written in the archive. */
  repoTags: string[];
}

export interface Archive {
  images: ArchiveImage[];
  /** `docker-archive` (manifest.json), `oci-layout` (index.json only) or both, as Docker 25+ writes. */
  format: 'docker-archive' | 'oci-layout' | 'docker-archive+oci-layout';
  compression: Compression;
  /** Remove the spooled files; images are unreadable afterwards. */
  close(): Promise<void>;
}

export interface ReadArchiveOptions {
  /** Directory in which a private spool directory is made (and removed by close()). */
  spoolDir: string;
}

interface SpooledFile {
  file: string;
  digest: Digest;
  size: number;
}

/** Normalise a tar entry path; RegistryError for absolute paths and `..` escapes. */
export function safeArchivePath(name: string): string {
  const unsafe = (why: string) =>
    new RegistryError('INVALID_REQUEST', `unsafe path in archive: "${name.slice(0, 300)}" ${why}`, { path: name.slice(0, 300) });
  if (name.includes('\0')) throw unsafe('contains a NUL byte');
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name) || name.startsWith('\\')) throw unsafe('is absolute');
  if (name.split(/[\\/]/).includes('..')) throw unsafe('contains ".."');
  const n = posix.normalize(name).replace(/\/+$/, '');
  return n === '.' ? '' : n.replace(/^\.\//, '');
}

/** Read an archive from a file path or a stream (plain, gzip, bzip2, xz or zstd). */
export async function readArchive(input: string | Readable, options: ReadArchiveOptions): Promise<Archive> {
  const source = typeof input === 'string' ? createReadStream(input) : input;
  // The spool directory first: a decompressor may fail at once, and its stream must have its
  // reader (spool) attached before anything else is awaited.
  const dir = await mkdtemp(join(options.spoolDir, 'archive-'));
  const close = () => rm(dir, { recursive: true, force: true });
  try {
    const { compression, stream } = await decompressStream(source);
    const files = await spool(stream, dir);
    const archive = await interpret(files);
    return { ...archive, compression, close };
  } catch (e) {
    await close();
    throw e;
  }
}

async function spool(stream: Readable, dir: string): Promise<Map<string, SpooledFile>> {
  const files = new Map<string, SpooledFile>();
  const links: Array<[string, string]> = [];
  const extract = tar.extract();
  let n = 0;
  let failure: Error | undefined;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const handle = async (): Promise<void> => {
        const name = safeArchivePath(header.name);
        if (header.type === 'file' || header.type === 'contiguous-file') {
          const file = join(dir, `f${n++}`);
          const d = new Digester();
          await pipeline(
            // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Readable types.
            body as unknown as Readable,
            async function* (src: AsyncIterable<Buffer>) {
              for await (const c of src) {
                d.update(c);
                yield c;
              }
            },
            createWriteStream(file),
          );
          files.set(name, { file, digest: d.digest(), size: d.size });
          return;
        }
        if (header.type === 'symlink' || header.type === 'link') {
          const target = header.linkname ?? '';
          // Symlinks are relative to their directory; hard links name an archive path.
          const resolved = header.type === 'symlink' ? posix.join(posix.dirname(name), target) : target;
          if (target.startsWith('/')) safeArchivePath(target);
          links.push([name, safeArchivePath(resolved)]);
        }
        body.resume();
      };
      handle().then(
        () => next(),
        (e: Error) => {
          // Kept here because the extractor may report 'close' rather than this error.
          failure ??= e;
          body.destroy();
          next(e);
        },
      );
    });
    extract.on('finish', resolve);
    extract.on('close', resolve);
    extract.on('error', reject);
  });
  stream.on('error', (e) => extract.destroy(e));
  // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Writable types.
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  await done.catch((e: Error) => {
    failure ??= e;
  });
  if (failure) throw failure;
  // A content-addressed path is a promise about the bytes; hold the archive to it.
  for (const [name, f] of files) {
    const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
    if (m && f.digest !== `sha256:${m[1]}`) {
      throw new RegistryError('DIGEST_INVALID', `archive blob "${name}" does not match its digest`, { path: name, actual: f.digest });
    }
  }
  // Links may point at links; resolve a few hops, then give up.
  for (let hop = 0; hop < 8 && links.length; hop++) {
    for (let i = links.length - 1; i >= 0; i--) {
      const f = files.get(links[i][1]);
      if (f) {
        files.set(links[i][0], f);
        links.splice(i, 1);
      }
    }
  }
  return files;
}

function archiveInvalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail);
}

async function interpret(files: Map<string, SpooledFile>): Promise<Omit<Archive, 'compression' | 'close'>> {
  const read = async (name: string): Promise<Buffer> => {
    const f = files.get(name);
    if (!f) throw archiveInvalid(`archive has no file "${name}"`, { path: name });
    return readFile(f.file);
  };
  const blobName = (d: string) => (isDigest(d) ? `blobs/${d.replace(':', '/')}` : '');
  const open = async (name: string): Promise<Readable> => {
    const f = files.get(name);
    if (!f) throw new RegistryError('BLOB_UNKNOWN', `archive has no file "${name}"`, { path: name });
    return createReadStream(f.file);
  };
  const openBlob = (d: Descriptor) => open(blobName(d.digest));
  const jsonOf = async (name: string): Promise<unknown> => {
    try {
      return JSON.parse((await read(name)).toString('utf8'));
    } catch (e) {
      if (RegistryError.is(e)) throw e;
      throw archiveInvalid(`${name} in archive is not valid JSON`, { path: name });
    }
  };

  // OCI layout side: every image manifest reachable from index.json, by config digest, with its names.
  const ociByConfig = new Map<string, Buffer>();
  const ociImages: Array<{ raw: Buffer; names: string[]; fullNames: string[] }> = [];
  if (files.has('index.json')) {
    const walk = async (descs: Descriptor[], depth: number, inherited?: Record<string, string>): Promise<void> => {
      for (const d of descs) {
        if (!files.has(blobName(d.digest))) continue;
        const raw = await read(blobName(d.digest));
        const p = parseManifest(raw, d.mediaType);
        if (p.isIndex) {
          // A name on an index (a multi-platform image) names each of its manifests.
          if (depth < 4) await walk((p.parsed as OciIndex).manifests, depth + 1, d.annotations ?? inherited);
          continue;
        }
        const configDigest = (p.references[0] as Descriptor).digest;
        ociByConfig.set(configDigest, raw);
        // A bare ref.name (`v1`) is only a tag within the layout, not an image name: keep it as
        // written but do not parse it into a docker.io reference.
        const a = d.annotations ?? inherited ?? {};
        const name = a[ANNOTATION_IMAGE_NAME] ?? a[ANNOTATION_REF_NAME];
        const full = a[ANNOTATION_IMAGE_NAME] ?? (a[ANNOTATION_REF_NAME]?.includes('/') ? a[ANNOTATION_REF_NAME] : undefined);
        let existing = ociImages.find((i) => i.raw.equals(raw));
        if (!existing) ociImages.push((existing = { raw, names: [], fullNames: [] }));
        if (name) existing.names.push(name);
        if (full) existing.fullNames.push(full);
      }
    };
    const index = parseManifest(await read('index.json'), MediaTypes.ociIndex);
    await walk((index.parsed as OciIndex).manifests, 0);
  }

  const toTags = (names: string[]) => {
    const tags: Reference[] = [];
    for (const n of names) {
      try {
        tags.push(parseReference(n));
      } catch {
        // Kept in repoTags as written; not every archive writer follows Docker's grammar.
      }
    }
    return tags;
  };

  if (!files.has('manifest.json')) {
    if (!files.has('index.json')) throw archiveInvalid('archive has neither manifest.json (docker-archive) nor index.json (OCI layout)');
    const images = ociImages.map((i) => ({
      image: imageFromBlobs({ rawManifest: i.raw, openBlob }),
      repoTags: i.names,
      tags: toTags(i.fullNames),
    }));
    return { images, format: 'oci-layout' };
  }

  const manifestJson = await jsonOf('manifest.json');
  if (!Array.isArray(manifestJson)) throw archiveInvalid('manifest.json must be a JSON array');
  const images: ArchiveImage[] = [];
  for (const [i, raw] of manifestJson.entries()) {
    const e = raw as Partial<DockerArchiveManifestEntry>;
    if (typeof e?.Config !== 'string' || !Array.isArray(e.Layers) || !e.Layers.every((l) => typeof l === 'string')) {
      throw archiveInvalid(`manifest.json entry ${i} needs Config (string) and Layers (string[])`, { entry: i });
    }
    const configPath = safeArchivePath(e.Config);
    const layerPaths = e.Layers.map(safeArchivePath);
    const repoTags = Array.isArray(e.RepoTags) ? e.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    const configFile = files.get(configPath);
    if (!configFile) throw archiveInvalid(`archive has no config "${configPath}"`, { path: configPath });
    const rawOci = ociByConfig.get(configFile.digest);
    let image: Image;
    if (
      rawOci &&
      layerPaths.every((p, j) => files.get(p)?.digest === (parseManifest(rawOci).references[j + 1] as Descriptor | undefined)?.digest)
    ) {
      image = imageFromBlobs({ rawManifest: rawOci, openBlob });
    } else {
      // A pre-25 archive has no manifest: describe the files as they are, in Docker schema2.
      const rawConfig = await read(configPath);
      const diffIds = parseImageConfig(rawConfig).rootfs.diff_ids;
      if (diffIds.length !== layerPaths.length) {
        throw archiveInvalid(`manifest.json entry ${i} lists ${layerPaths.length} layers but its config has ${diffIds.length} diff_ids`, {
          entry: i,
        });
      }
      const layers = await Promise.all(
        layerPaths.map(async (p, j) => {
          const f = files.get(p);
          if (!f) throw archiveInvalid(`archive has no layer "${p}"`, { path: p });
          const head = await peek(createReadStream(f.file, { start: 0, end: 5 }), 6);
          head.stream.resume();
          const kind = detectCompression(head.bytes);
          const mediaType =
            kind === 'gzip' ? MediaTypes.dockerLayerGzip : kind === 'zstd' ? MediaTypes.ociLayerZstd : MediaTypes.dockerLayer;
          if (kind === 'none' && f.digest !== diffIds[j]) {
            throw new RegistryError('DIGEST_INVALID', `layer "${p}" does not match the config's diff_id`, {
              expected: diffIds[j],
              actual: f.digest,
            });
          }
          return layerFrom({ open: () => open(p), mediaType, digest: f.digest, size: f.size, diffId: diffIds[j] });
        }),
      );
      image = await buildImage({ rawConfig, layers, format: 'docker' });
    }
    images.push({ image, repoTags, tags: toTags(repoTags) });
  }
  return { images, format: files.has('index.json') ? 'docker-archive+oci-layout' : 'docker-archive' };
}
