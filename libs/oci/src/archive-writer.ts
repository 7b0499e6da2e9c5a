// Write `docker save` tarballs as Docker 25+ does: a docker-archive (manifest.json, repositories)
// and an OCI image layout (oci-layout, index.json, blobs/) sharing one set of blobs, each blob once.
import { PassThrough, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { Digester, digestAlgorithm, digestHex, type Digest } from './digest';
import { RegistryError } from './errors';
import type { Image } from './image';
import { copy, type BlobOutcome, type CopyItem, type ImageSink, type SinkBlob } from './image-copy';
import { parseManifest } from './parse-manifest';
import { familiarName, familiarString, fullName, parseReference, referenceString, type Reference } from './reference';
import type { Descriptor, ImageManifest } from './schemas';

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
 * A `docker save` tarball as the sink of a copy (save = copy(local, archive)): blobs are written
 * once each as they come, checked against their digest and size (a mismatch fails the stream with
 * DIGEST_INVALID/SIZE_INVALID); manifests are stored as blobs and recorded; tags become RepoTags,
 * index.json names and `repositories`; `finish` writes index.json, manifest.json, oci-layout and
 * ends the tarball. Repositories only matter for tags: an archive holds each blob once.
 */
export class ArchiveSink implements ImageSink {
  /** The tarball (gzip'd when asked); errors of the writing reach the reader through it. */
  readonly stream: Readable;
  /** Ends the tarball with an error (a copy that failed). */
  readonly fail: (e: unknown) => void;
  private readonly pack = tar.pack();
  private readonly mtime: Date;
  private readonly written = new Set<string>();
  private readonly dirs = new Set<string>();
  private readonly manifestJson: DockerArchiveManifestEntry[] = [];
  private readonly images = new Map<string, { descriptor: Descriptor; entry?: DockerArchiveManifestEntry; tagged: boolean }>();
  private readonly named: Descriptor[] = [];
  private readonly repositories: Record<string, Record<string, string>> = {};
  // tar-stream takes one entry at a time: concurrent puts wait their turn.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: WriteArchiveOptions = {}) {
    const out = new PassThrough();
    this.mtime = options.mtime ?? new Date(0);
    // Errors reach the caller through `out`; pack's own 'error' would otherwise be unhandled.
    this.pack.on('error', () => undefined);
    this.fail = (e: unknown): void => {
      out.destroy(e as Error);
      this.pack.destroy(e as Error);
    };
    // pack is a streamx stream; plain pipe() bridges it to Node streams.
    if (options.gzip) {
      const gz = createGzip();
      gz.on('error', this.fail);
      this.pack.pipe(gz).pipe(out);
    } else {
      this.pack.pipe(out);
    }
    this.stream = out;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private file(name: string, body: Buffer): Promise<void> {
    return entry(this.pack, { name, size: body.length, mode: 0o644, mtime: this.mtime, type: 'file' }, body);
  }

  private async ensureDir(d: Digest): Promise<void> {
    for (const dir of ['blobs/', `blobs/${digestAlgorithm(d)}/`]) {
      if (this.dirs.has(dir)) continue;
      this.dirs.add(dir);
      await entry(this.pack, { name: dir, type: 'directory', mode: 0o755, mtime: this.mtime });
    }
  }

  putBlob(_repository: string, blob: SinkBlob): Promise<{ outcome: BlobOutcome; digest: Digest; size: number }> {
    return this.serial(async () => {
      if (!blob.digest || blob.size === undefined)
        throw new RegistryError('INVALID_REQUEST', 'an archive takes blobs whose digest and size are known');
      const d = blob.digest;
      if (this.written.has(d)) return { outcome: 'exists', digest: d, size: blob.size };
      await this.ensureDir(d);
      this.written.add(d);
      await streamBlob(this.pack, d, blob.size, await blob.open(), this.mtime);
      return { outcome: 'uploaded', digest: d, size: blob.size };
    });
  }

  putManifest(_repository: string, digest: Digest, bytes: Buffer, mediaType: string): Promise<void> {
    return this.serial(async () => {
      if (this.images.has(digest)) return;
      if (!this.written.has(digest)) {
        await this.ensureDir(digest);
        this.written.add(digest);
        await this.file(blobPath(digest), bytes);
      }
      const parsed = parseManifest(bytes, mediaType);
      const descriptor: Descriptor = { mediaType: parsed.mediaType, digest, size: bytes.length };
      // docker-archive's manifest.json knows images only; an index is named in index.json alone.
      let dm: DockerArchiveManifestEntry | undefined;
      if (!parsed.isIndex) {
        const m = parsed.parsed as ImageManifest;
        dm = { Config: blobPath(m.config.digest as Digest), RepoTags: null, Layers: m.layers.map((l) => blobPath(l.digest as Digest)) };
        this.manifestJson.push(dm);
      }
      this.images.set(digest, { descriptor, entry: dm, tagged: false });
    });
  }

  async tag(repository: string, tag: string, digest: Digest): Promise<void> {
    const img = this.images.get(digest);
    if (!img) throw new RegistryError('MANIFEST_UNKNOWN', 'a tag is written after its manifest', { digest });
    const r = parseReference(`${repository}:${tag}`);
    const tagged: Reference = { registry: r.registry, repository: r.repository, tag };
    img.tagged = true;
    this.named.push({ ...img.descriptor, annotations: { [ANNOTATION_IMAGE_NAME]: referenceString(tagged), [ANNOTATION_REF_NAME]: tag } });
    const dm = img.entry;
    if (!dm) return;
    const repoTag = familiarString(tagged);
    dm.RepoTags ??= [];
    if (!dm.RepoTags.includes(repoTag)) dm.RepoTags.push(repoTag);
    const top = dm.Layers[dm.Layers.length - 1];
    if (top) (this.repositories[familiarName(r)] ??= {})[tag] = top.slice(top.lastIndexOf('/') + 1);
  }

  /** Write the indexes and end the tarball. */
  finish(): Promise<void> {
    return this.serial(async () => {
      const json = (v: unknown) => Buffer.from(JSON.stringify(v));
      // Named images in the order they were tagged, then those saved by digest only.
      const untagged = [...this.images.values()].filter((i) => !i.tagged && i.entry).map((i) => i.descriptor);
      await this.file(
        'index.json',
        json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [...this.named, ...untagged] }),
      );
      await this.file('manifest.json', json(this.manifestJson));
      await this.file('oci-layout', json({ imageLayoutVersion: '1.0.0' }));
      if (Object.keys(this.repositories).length) await this.file('repositories', json(this.repositories));
      this.pack.finalize();
    });
  }
}

/** The repository of an archive entry saved by digest only (an archive keeps blobs once, whatever repository). */
const UNNAMED = '';

/** Stream a tarball holding every entry's image and tags: a copy into an ArchiveSink. Untagged entries are kept by digest. */
export function writeArchive(entries: readonly ArchiveEntry[], options: WriteArchiveOptions = {}): Readable {
  const sink = new ArchiveSink(options);
  const items: CopyItem[] = entries.map((e) => {
    const refs = e.tags.map((t) => (typeof t === 'string' ? parseReference(t) : t)).filter((r) => r.tag !== undefined);
    const targets = refs.map((r) => ({ repository: fullName(r), tag: r.tag! }));
    return { artifact: { kind: 'image', image: e.image }, targets: targets.length ? targets : [{ repository: UNNAMED }] };
  });
  copy(items, sink)
    .then(() => sink.finish())
    .catch((e: unknown) => sink.fail(e));
  return sink.stream;
}

function entry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
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
  if (check.size !== size)
    throw new RegistryError('SIZE_INVALID', 'layer is smaller than its descriptor says', { digest, size, actual: check.size });
  if (check.digest() !== digest)
    throw new RegistryError('DIGEST_INVALID', 'layer does not match its digest', { expected: digest, actual: check.digest() });
  // Cast: streamx types give end() a required chunk; ending without one is what the stream expects.
  (sink as unknown as { end(): void }).end();
  await done;
}
