// A commit = copy(mutate(parent, newLayer, changes), local): the read-write layer as a deterministic
// tar, gzip'd (parallel members, as pigz) while its digest and diff_id are computed in one pass,
// streamed into the blob store; the parent's config with the changes, author, created and a history
// entry; the parent's layers linked into the target. libs/oci's copy stores the blobs, then the
// manifest, and only then the tag. Everything is a function of the job's data, so a rerun (retry,
// or another worker after a crash) writes the same blobs and the same manifest digest.
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import { LocalImageSink, learnLayerSizes, localArtifact, type LayerSizeCache } from '@stevedore/images';
import {
  DigestStream,
  MediaTypes,
  RegistryError,
  applyChanges,
  copy,
  mutate,
  streamingLayer,
  type Digest,
  type History,
  type ImageConfig,
  type ImageSink,
} from '@stevedore/oci';
import { layerOf, writeLayer, type ContentStore } from '@stevedore/unionfs';
import type { CommitJobData, CommitProgress, CommitResult } from './commit-job';
import { ParallelGzip } from './parallel-gzip';

export interface CommitDeps {
  blobs: BlobService;
  metadata: MetadataService;
  /**
   * Where `docker images` reads uncompressed layer sizes: the commit records its new layer's, and
   * learns its parent's that nothing recorded yet (layers pushed through /v2), before it answers.
   */
  sizes?: LayerSizeCache;
  /** `readAll`, when the store has it, reads a small file in one call (see ReadAhead). */
  content: ContentStore & { readAll?(digest: Digest): Promise<Buffer> };
}

export interface CommitHooks {
  onProgress?: (p: CommitProgress) => void;
  /** Throws when the job was cancelled; checked between files. */
  checkCancelled?: () => Promise<void>;
  gzipLevel?: number;
}

export async function buildCommit(deps: CommitDeps, data: CommitJobData, hooks: CommitHooks = {}): Promise<CommitResult> {
  const { repository: target, tag } = data.target;
  const parentRepo = data.image.repository;
  // The parent as it is stored here: its layers name this store, so the copy links them into the
  // target repository instead of moving bytes.
  const parent = await localArtifact(deps.blobs, deps.metadata, { name: parentRepo, digest: data.image.manifestDigest });
  if (parent.kind !== 'image')
    throw new RegistryError('MANIFEST_INVALID', 'the container image resolved to an index', { digest: data.image.manifestDigest });

  // Meanwhile: the parent's layer sizes, so the new image's SIZE is known when the job completes
  // (read once per layer ever, and only for layers whose size nothing has recorded).
  const sizes = deps.sizes;
  const parentSizes = sizes
    ? parent.image.manifest().then((m) => learnLayerSizes({ blobs: deps.blobs, sizes }, parentRepo, m.layers))
    : undefined;
  parentSizes?.catch(() => undefined);

  const files = data.entries.filter((e) => e.type === 'file');
  const progress: CommitProgress = {
    phase: 'layer',
    files: 0,
    totalFiles: data.entries.length,
    bytes: 0,
    totalBytes: files.reduce((a, e) => a + e.size, 0),
  };
  const report = () => hooks.onProgress?.({ ...progress });
  report();
  const created = data.created;
  const createdSeconds = Math.floor(Date.parse(created) / 1000);
  const empty = data.entries.length === 0;

  // The read-write layer as a deterministic tar (diff_id hashed by writeLayer) -> parallel gzip
  // members -> digest, streamed into the blob store by the copy.
  const layer = empty
    ? undefined
    : streamingLayer(MediaTypes.ociLayerGzip, async () => {
        // Counting what the tar writer reads: files done, bytes of content. Small files are read
        // ahead as whole buffers (the writer asks for them in layer order) and packed without a
        // stream each, so 1,000 tiny files cost neither 1,000 sequential storage round trips nor
        // 1,000 streams.
        let last = 0;
        let lastCancelCheck = 0;
        const ahead = new ReadAhead(
          deps.content,
          layerOf(data.entries).entries.filter((e) => e.type === 'file' && e.size > 0 && e.digest),
        );
        const counted = (n: number) => {
          progress.bytes += n;
          if (Date.now() - last > 200) {
            last = Date.now();
            report();
          }
        };
        const body = async (d: Digest): Promise<Uint8Array | Readable> => {
          if (Date.now() - lastCancelCheck > 250) {
            lastCancelCheck = Date.now();
            await hooks.checkCancelled?.();
          }
          const b = await ahead.open(d);
          if (b instanceof Uint8Array) {
            progress.files++;
            counted(b.byteLength);
            return b;
          }
          b.on('data', (c: Buffer) => counted(c.length));
          b.on('end', () => progress.files++);
          return b;
        };
        const gz = new ParallelGzip({ level: hooks.gzipLevel ?? 1 });
        const stored = new DigestStream();
        const out = new PassThrough({ highWaterMark: 1 << 20 });
        const compressing = pipeline(gz, stored, out);
        compressing.catch(() => undefined);
        const writing = writeLayer(layerOf(data.entries), gz, {
          contentStore: deps.content,
          body,
          compression: 'none',
          normalize: { mtime: createdSeconds },
        });
        writing.catch((e: Error) => {
          gz.destroy(e);
          out.destroy(e);
        });
        const facts = Promise.all([writing, compressing]).then(([w]) => ({
          digest: stored.digest(),
          size: stored.size,
          diffId: w.diffId,
          uncompressedSize: w.uncompressedSize,
        }));
        facts.catch(() => undefined);
        return { stream: out, facts };
      });

  const history: History = { created, created_by: commitCreatedBy(data) };
  if (data.spec.author) history.author = data.spec.author;
  if (data.spec.message) history.comment = data.spec.message;
  if (empty) history.empty_layer = true;
  const image = mutate(parent.image, {
    layer,
    history,
    config: (base) => {
      const config: ImageConfig = { ...applyChanges(base, data.spec.changes), created };
      if (data.spec.author) config.author = data.spec.author;
      else delete config.author;
      // docker commit -m is the new image's comment (inspect's Comment); the parent's is not inherited.
      if (data.spec.message) config.comment = data.spec.message;
      else delete config.comment;
      return config;
    },
  });

  const copied = await copy(
    [{ artifact: { kind: 'image', image }, targets: [{ repository: target, tag }] }],
    cancellableBeforeTags(new LocalImageSink(deps.blobs, deps.metadata, deps.sizes), hooks.checkCancelled),
    {
      onProgress: (p) => {
        const phase =
          p.phase === 'blobs'
            ? progress.files === data.entries.length && !empty
              ? 'config'
              : 'layer'
            : p.phase === 'manifests'
              ? 'manifest'
              : p.phase === 'tags'
                ? 'tag'
                : 'done';
        if (phase === 'done' || phase !== progress.phase) {
          if (phase !== 'layer') progress.files = data.entries.length;
          progress.phase = phase;
          report();
        }
      },
    },
  );
  const result = copied.artifacts[0];
  const facts = layer ? await layer.facts() : undefined;
  // A size that cannot be learned only leaves SIZE unknown, as before; it never fails the commit.
  await parentSizes?.catch(() => undefined);
  return {
    reference: `${target}:${tag}`,
    repository: target,
    tag,
    digest: result.digest,
    configDigest: result.configDigest!,
    ...(facts
      ? { layer: { digest: facts.digest, diffId: facts.diffId, size: facts.size, uncompressedSize: facts.uncompressedSize ?? 0 } }
      : {}),
    files: data.entries.length,
    bytes: progress.totalBytes,
  };
}

const READ_AHEAD_FILES = 32;
const READ_AHEAD_MAX_SIZE = 256 * 1024;

/** Reads contents in the order given, with the next small files already being read. */
class ReadAhead {
  private next = 0;
  private readonly pending = new Map<number, Promise<Buffer>>();
  constructor(
    private readonly store: CommitDeps['content'],
    private readonly files: ReadonlyArray<{ digest?: Digest; size: number }>,
  ) {}

  private start(i: number): void {
    const f = this.files[i];
    if (!f || this.pending.has(i) || f.size > READ_AHEAD_MAX_SIZE) return;
    const p = this.store.readAll
      ? this.store.readAll(f.digest!)
      : Promise.resolve(this.store.open(f.digest!)).then(async (s) => {
          const chunks: Buffer[] = [];
          for await (const c of s as Readable) chunks.push(c as Buffer);
          return Buffer.concat(chunks);
        });
    p.catch(() => undefined);
    this.pending.set(i, p);
  }

  /** A small file's bytes (read ahead), or a stream of a large one. */
  async open(digest: Digest): Promise<Buffer | Readable> {
    // The writer asks in order; anything else (a repeated digest) is simply opened.
    const i = this.files[this.next]?.digest === digest ? this.next++ : -1;
    for (let j = this.next; j < this.next + READ_AHEAD_FILES; j++) this.start(j);
    if (i < 0) return (await this.store.open(digest)) as Readable;
    const p = this.pending.get(i);
    this.pending.delete(i);
    if (p) return p;
    return (await this.store.open(digest)) as Readable;
  }
}

/** What `docker history` shows for a commit. */
function commitCreatedBy(data: CommitJobData): string {
  const parts = ['stevedore commit'];
  if (data.spec.changes.length) parts.push(...data.spec.changes.map((c) => `-c ${JSON.stringify(c)}`));
  parts.push(data.spec.container.slice(0, 12));
  return parts.join(' ');
}

/**
 * The sink with one last cancellation check before the tag: a cancel that arrives after the last
 * file was read still keeps the tag from moving (what was stored untagged is GC's), and one that
 * arrives after the tag is too late (the job completes, as it has).
 */
function cancellableBeforeTags(sink: ImageSink, checkCancelled?: () => Promise<void>): ImageSink {
  if (!checkCancelled) return sink;
  return {
    store: sink.store,
    putBlob: (repository, blob, storedIn) => sink.putBlob(repository, blob, storedIn),
    putManifest: (repository, digest, bytes, mediaType) => sink.putManifest(repository, digest, bytes, mediaType),
    tag: async (repository, tag, digest) => {
      await checkCancelled();
      return sink.tag(repository, tag, digest);
    },
    layerUnpacked: sink.layerUnpacked ? (digest, size) => sink.layerUnpacked!(digest, size) : undefined,
  };
}
