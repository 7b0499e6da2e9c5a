// Turns a commit job into an image: the read-write layer as a deterministic tar, gzip'd (parallel
// members, as pigz) while its digest and diff_id are computed in one pass and streamed to the blob service; the parent's config
// with the changes, author, created and a history entry; the manifest; and only then the tag.
// Everything is a function of the job's data, so a rerun (retry, or another worker after a crash)
// writes the same blobs and the same manifest digest.
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import type { ImageService } from '@stevedore/images';
import {
  DigestStream,
  MediaTypes,
  RegistryError,
  applyChanges,
  buildImage,
  layerFrom,
  parseManifest,
  type Digest,
  type History,
  type ImageConfig,
  type ImageManifest,
  type Layer as OciLayer,
} from '@stevedore/oci';
import { layerOf, writeLayer, type ContentStore } from '@stevedore/unionfs';
import type { CommitJobData, CommitProgress, CommitResult } from './commit-job';
import { ParallelGzip } from './parallel-gzip';

export interface CommitDeps {
  blobs: BlobService;
  metadata: MetadataService;
  images: ImageService;
  /** `readAll`, when the store has it, reads a small file in one call (see ReadAhead). */
  content: ContentStore & { readAll?(digest: Digest): Promise<Buffer> };
}

export interface CommitHooks {
  onProgress?: (p: CommitProgress) => void;
  /** Throws when the job was cancelled; checked between files. */
  checkCancelled?: () => Promise<void>;
  gzipLevel?: number;
}

function knownLayer(repository: string, blobs: BlobService, mediaType: string, digest: Digest, size: number, diffId: Digest): OciLayer {
  return layerFrom({
    mediaType,
    digest,
    size,
    diffId,
    open: async () => {
      const c = await blobs.open(repository, digest);
      if (!c.stream) throw new RegistryError('BLOB_UNKNOWN', `layer ${digest} cannot be read`, { digest });
      return c.stream;
    },
  });
}

export async function buildCommit(deps: CommitDeps, data: CommitJobData, hooks: CommitHooks = {}): Promise<CommitResult> {
  const { repository: target, tag } = data.target;
  const parentRepo = data.image.repository;
  const stored = await deps.metadata.getManifest(parentRepo, data.image.manifestDigest);
  const parent = parseManifest(stored.bytes, stored.mediaType);
  if (parent.isIndex) throw new RegistryError('MANIFEST_INVALID', 'the container image resolved to an index', { digest: data.image.manifestDigest });
  const parentManifest = parent.parsed as ImageManifest;
  const parentConfig = await deps.images.config(parentRepo, parentManifest);
  const format = parentManifest.mediaType === MediaTypes.dockerManifest ? 'docker' : 'oci';
  const diffIds = (parentConfig.rootfs?.diff_ids ?? []) as Digest[];
  if (diffIds.length !== parentManifest.layers.length) {
    throw new RegistryError('MANIFEST_INVALID', 'the parent image config and manifest disagree on the layer count', { digest: data.image.manifestDigest });
  }

  // The parent's layers become the target repository's too (a mount; no bytes move).
  if (target !== parentRepo) {
    for (const l of parentManifest.layers) {
      if (!(await deps.blobs.mount(target, parentRepo, l.digest as Digest))) {
        throw new RegistryError('BLOB_UNKNOWN', `layer ${l.digest} of ${parentRepo} is not available`, { digest: l.digest });
      }
    }
  }
  const layers: OciLayer[] = parentManifest.layers.map((l, i) => knownLayer(target, deps.blobs, l.mediaType, l.digest as Digest, l.size, diffIds[i]));

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
  let written: CommitResult['layer'];
  if (!empty) {
    // Counting what the tar writer reads: files done, bytes of content streamed. Small files are
    // read ahead (the writer asks for them in layer order), so 1,000 tiny files do not cost 1,000
    // sequential storage round trips.
    let last = 0;
    let lastCancelCheck = 0;
    const ahead = new ReadAhead(deps.content, layerOf(data.entries).entries.filter((e) => e.type === 'file' && e.size > 0 && e.digest));
    const content: ContentStore = {
      put: (d) => deps.content.put(d),
      has: (d) => deps.content.has(d),
      open: async (d) => {
        if (Date.now() - lastCancelCheck > 250) {
          lastCancelCheck = Date.now();
          await hooks.checkCancelled?.();
        }
        const s = await ahead.open(d);
        s.on('data', (c: Buffer) => {
          progress.bytes += c.length;
          if (Date.now() - last > 200) {
            last = Date.now();
            report();
          }
        });
        s.on('end', () => progress.files++);
        return s;
      },
    };
    // tar (diff_id hashed by writeLayer) -> parallel gzip members -> digest -> the blob service.
    const gz = new ParallelGzip({ level: hooks.gzipLevel ?? 1 });
    const stored = new DigestStream();
    const pass = new PassThrough({ highWaterMark: 1 << 20 });
    const upload = deps.blobs.putBlob(target, pass);
    upload.catch(() => undefined);
    const compressing = pipeline(gz, stored, pass);
    compressing.catch(() => undefined);
    let w;
    try {
      w = await writeLayer(layerOf(data.entries), gz, { contentStore: content, compression: 'none', normalize: { mtime: createdSeconds } });
      await compressing;
    } catch (e) {
      gz.destroy(e as Error);
      pass.destroy(e as Error);
      throw e;
    }
    const info = await upload;
    if (info.digest !== stored.digest()) {
      throw new RegistryError('DIGEST_INVALID', 'the stored layer does not match the written one', { written: stored.digest(), stored: info.digest });
    }
    written = { digest: stored.digest(), diffId: w.diffId, size: stored.size, uncompressedSize: w.uncompressedSize };
    layers.push(knownLayer(target, deps.blobs, MediaTypes.ociLayerGzip, written.digest, written.size, written.diffId));
    progress.files = data.entries.length;
    report();
  }

  progress.phase = 'config';
  report();
  const history: History = { created, created_by: commitCreatedBy(data) };
  if (data.spec.author) history.author = data.spec.author;
  if (data.spec.message) history.comment = data.spec.message;
  if (empty) history.empty_layer = true;
  const config: ImageConfig = {
    ...applyChanges(parentConfig, data.spec.changes),
    created,
    history: [...(parentConfig.history ?? []), history],
  };
  if (data.spec.author) config.author = data.spec.author;
  else delete config.author;
  const image = await buildImage({ config, layers, format });
  const rawConfig = await image.rawConfigFile();
  const configDigest = await image.configName();
  await deps.blobs.putBlob(target, Readable.from([rawConfig]), configDigest, rawConfig.length);

  progress.phase = 'manifest';
  report();
  const raw = await image.rawManifest();
  const digest = await image.digest();
  // By digest first: the tag moves only once the manifest and everything it names are stored.
  await deps.metadata.putManifest(target, digest, raw, await image.mediaType());
  progress.phase = 'tag';
  report();
  await deps.metadata.tagManifest(target, tag, digest);
  progress.phase = 'done';
  report();
  return {
    reference: `${target}:${tag}`,
    repository: target,
    tag,
    digest,
    configDigest,
    ...(written ? { layer: written } : {}),
    files: data.entries.length,
    bytes: progress.totalBytes,
  };
}

const READ_AHEAD_FILES = 32;
const READ_AHEAD_MAX_SIZE = 256 * 1024;

/** Opens contents in the order given, with the next small files already being read. */
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

  async open(digest: Digest): Promise<Readable> {
    // The writer asks in order; anything else (a repeated digest) is simply opened.
    const i = this.files[this.next]?.digest === digest ? this.next++ : -1;
    for (let j = this.next; j < this.next + READ_AHEAD_FILES; j++) this.start(j);
    if (i < 0) return (await this.store.open(digest)) as Readable;
    const p = this.pending.get(i);
    this.pending.delete(i);
    if (p) return Readable.from([await p]);
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
