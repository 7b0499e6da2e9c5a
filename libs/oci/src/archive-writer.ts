// Write `docker save` tarballs as Docker 25+ does: a docker-archive (manifest.json, repositories)
// and an OCI image layout (oci-layout, index.json, blobs/) sharing one set of blobs, each blob once.
import { PassThrough, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { Digester, digestAlgorithm, digestHex, digestOf, type Digest } from './digest';
import { RegistryError } from './errors';
import type { Image } from './image';
import { familiarName, familiarString, parseReference, referenceString, type Reference } from './reference';
import type { Descriptor } from './schemas';

/** containerd's annotation for the full image name of an index.json entry. */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

export interface ArchiveEntry {
  image: Image;
  /** References to record (`busybox`, `quay.io/x/y:1`); digest-only references are ignored. */
  tags: ReadonlyArray<string | Reference>;
}

export interface WriteArchiveOptions {
  /** gzip the whole tarball (docker load accepts it; skopeo's docker-archive reader does not). */
  gzip?: boolean;
  /** mtime for every entry; fixed by default so the same images give the same bytes. */
  mtime?: Date;
}

/** docker-archive's manifest.json entry. */
export interface DockerArchiveManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

function blobPath(d: Digest): string {
  return `blobs/${digestAlgorithm(d)}/${digestHex(d)}`;
}

/**
 * Stream a tarball holding every entry's image and tags. Blobs are streamed, checked against
 * their digest and size as they go (a mismatch fails the stream with DIGEST_INVALID/SIZE_INVALID).
 */
export function writeArchive(entries: readonly ArchiveEntry[], options: WriteArchiveOptions = {}): Readable {
  const pack = tar.pack();
  const out = new PassThrough();
  const mtime = options.mtime ?? new Date(0);
  // Errors reach the caller through `out`; pack's own 'error' would otherwise be unhandled.
  pack.on('error', () => undefined);
  const fail = (e: unknown): void => {
    out.destroy(e as Error);
    pack.destroy(e as Error);
  };
  // pack is a streamx stream; plain pipe() bridges it to Node streams.
  if (options.gzip) {
    const gz = createGzip();
    gz.on('error', fail);
    pack.pipe(gz).pipe(out);
  } else {
    pack.pipe(out);
  }
  fill(pack, entries, mtime).catch(fail);
  return out;
}

function entry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
}

async function fill(pack: tar.Pack, entries: readonly ArchiveEntry[], mtime: Date): Promise<void> {
  const file = (name: string, body: Buffer) => entry(pack, { name, size: body.length, mode: 0o644, mtime, type: 'file' }, body);
  const written = new Set<string>();
  const dirs = new Set<string>();
  const ensureDir = async (d: Digest): Promise<void> => {
    for (const dir of ['blobs/', `blobs/${digestAlgorithm(d)}/`]) {
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      await entry(pack, { name: dir, type: 'directory', mode: 0o755, mtime });
    }
  };
  const putBytes = async (d: Digest, body: Buffer): Promise<void> => {
    if (written.has(d)) return;
    await ensureDir(d);
    written.add(d);
    await file(blobPath(d), body);
  };

  const manifestJson: DockerArchiveManifestEntry[] = [];
  const indexManifests: Descriptor[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const seenImages = new Map<string, DockerArchiveManifestEntry>();

  for (const e of entries) {
    const img = e.image;
    const digest = await img.digest();
    const rawManifest = await img.rawManifest();
    const descriptor: Descriptor = { mediaType: await img.mediaType(), digest, size: rawManifest.length };
    const refs = e.tags.map((t) => (typeof t === 'string' ? parseReference(t) : t)).filter((r) => r.tag !== undefined);

    let dm = seenImages.get(digest);
    if (!dm) {
      const rawConfig = await img.rawConfigFile();
      const configDigest = await img.configName();
      if (digestOf(rawConfig, digestAlgorithm(configDigest)) !== configDigest) {
        throw new RegistryError('DIGEST_INVALID', 'image config does not match its digest', { expected: configDigest });
      }
      await putBytes(configDigest, rawConfig);
      const layerPaths: string[] = [];
      for (const layer of await img.layers()) {
        const ld = await layer.digest();
        layerPaths.push(blobPath(ld));
        if (written.has(ld)) continue;
        await ensureDir(ld);
        written.add(ld);
        await streamBlob(pack, ld, await layer.size(), await layer.compressed(), mtime);
      }
      await putBytes(digest, rawManifest);
      dm = { Config: blobPath(configDigest), RepoTags: null, Layers: layerPaths };
      seenImages.set(digest, dm);
      manifestJson.push(dm);
      if (refs.length === 0) indexManifests.push(descriptor);
    }
    for (const r of refs) {
      const tag = r.tag as string;
      const tagged: Reference = { registry: r.registry, repository: r.repository, tag };
      const repoTag = familiarString(tagged);
      dm.RepoTags ??= [];
      if (!dm.RepoTags.includes(repoTag)) dm.RepoTags.push(repoTag);
      indexManifests.push({ ...descriptor, annotations: { [ANNOTATION_IMAGE_NAME]: referenceString(tagged), [ANNOTATION_REF_NAME]: tag } });
      const top = dm.Layers[dm.Layers.length - 1];
      if (top) (repositories[familiarName(r)] ??= {})[tag] = top.slice(top.lastIndexOf('/') + 1);
    }
  }

  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  await file('index.json', json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: indexManifests }));
  await file('manifest.json', json(manifestJson));
  await file('oci-layout', json({ imageLayoutVersion: '1.0.0' }));
  if (Object.keys(repositories).length) await file('repositories', json(repositories));
  pack.finalize();
}

async function streamBlob(pack: tar.Pack, digest: Digest, size: number, body: Readable, mtime: Date): Promise<void> {
  const check = new Digester(digestAlgorithm(digest));
  let sinkError: Error | undefined;
  let sink!: ReturnType<tar.Pack['entry']>;
  const done = new Promise<void>((resolve, reject) => {
    sink = pack.entry({ name: blobPath(digest), size, mode: 0o644, mtime, type: 'file' }, (err) => (err ? reject(err) : resolve()));
  });
  done.catch((e: Error) => (sinkError = e));
  sink.on('error', (e: Error) => (sinkError ??= e));
  try {
    for await (const c of body as AsyncIterable<Buffer>) {
      check.update(c);
      if (check.size > size) throw new RegistryError('SIZE_INVALID', 'layer is larger than its descriptor says', { digest, size });
      if (sinkError) throw sinkError;
      // tar-stream's entry is a streamx Writable: honour its backpressure by hand.
      if (!sink.write(c)) await new Promise<void>((r) => sink.once('drain', () => r()));
    }
  } catch (e) {
    body.destroy();
    throw e;
  }
  if (check.size !== size) throw new RegistryError('SIZE_INVALID', 'layer is smaller than its descriptor says', { digest, size, actual: check.size });
  if (check.digest() !== digest) throw new RegistryError('DIGEST_INVALID', 'layer does not match its digest', { expected: digest, actual: check.digest() });
  (sink as unknown as { end(): void }).end();
  await done;
}
