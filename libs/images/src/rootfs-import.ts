// `docker import`: a root filesystem tarball (plain or compressed) becomes a one-layer base image,
// in one pass: decompress -> count (limit) -> diff_id -> tar check -> gzip -> blob store. The config
// carries `-c` changes, a history entry with the message, and the uncompressed size is remembered.
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import {
  DigestStream,
  MediaTypes,
  RegistryError,
  applyChanges,
  buildImage,
  layerFrom,
  type Digest,
  type ImageConfig,
} from '@stevedore/oci';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import { ByteLimit, decompress } from './decompress';
import { parseImageRef } from './image-reference';
import { openBlobStream } from './blob-stream';
import type { LayerSizeCache } from './layer-size-cache';

export interface RootfsImportOptions {
  /** `repo[:tag]` to create; the tag defaults to `latest`. */
  reference: string;
  /** Dockerfile instructions applied to the config (`docker import -c`). */
  changes?: string[];
  /** `docker import -m`: the history entry's comment. */
  message?: string;
  author?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  /** Most uncompressed bytes accepted. */
  maxBytes: number;
  now?: Date;
}

export interface RootfsImportResult {
  reference: string;
  digest: Digest;
  id: Digest;
  layer: { digest: Digest; size: number; diffId: Digest; uncompressedSize: number };
}

/** Reads a tar as it passes, so a stream that is not a tar (or a truncated one) fails the import. */
class TarCheck extends Transform {
  private readonly extract = tar.extract();
  private failure: Error | undefined;
  private readonly done: Promise<void>;
  entries = 0;
  constructor() {
    super();
    this.done = new Promise<void>((resolve, reject) => {
      this.extract.on('entry', (header, body, next) => {
        this.entries++;
        if (header.name.split('/').includes('..')) {
          this.failure = new RegistryError('INVALID_REQUEST', `unsafe path in tarball: "${header.name.slice(0, 300)}" contains ".."`, { path: header.name.slice(0, 300) });
          // Stop here: the transform fails on its next chunk (or at flush) with this error.
          body.on('error', () => undefined);
          body.resume();
          body.on('end', () => next());
          return;
        }
        body.on('end', () => next());
        body.resume();
      });
      this.extract.on('finish', resolve);
      this.extract.on('close', resolve);
      this.extract.on('error', (e: Error) => reject(this.failure ?? notATar(e)));
    });
    this.done.catch((e: Error) => (this.failure ??= e));
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    if (this.failure) return cb(this.failure);
    const ok = this.extract.write(chunk);
    const go = () => (this.failure ? cb(this.failure) : cb(null, chunk));
    if (ok) go();
    else this.extract.once('drain', go);
  }
  override _flush(cb: TransformCallback): void {
    if (this.failure) return cb(this.failure);
    (this.extract as unknown as { end(): void }).end();
    this.done.then(
      () => cb(this.failure ?? (this.entries === 0 ? new RegistryError('INVALID_REQUEST', 'the tarball holds no files') : undefined)),
      (e: Error) => cb(e),
    );
  }
}

function notATar(e: Error): RegistryError {
  return RegistryError.is(e) ? e : new RegistryError('INVALID_REQUEST', `not a readable tar (corrupt or truncated): ${e.message}`);
}

export async function importRootfs(
  deps: { blobs: BlobService; metadata: MetadataService; sizes: LayerSizeCache },
  body: Readable,
  options: RootfsImportOptions,
): Promise<RootfsImportResult> {
  const ref = parseImageRef(options.reference, { defaultTag: true });
  if (ref.digest) throw new RegistryError('INVALID_REQUEST', 'import needs REPOSITORY[:TAG], not a digest', { reference: options.reference });
  const tag = ref.tag ?? 'latest';
  const now = (options.now ?? new Date()).toISOString();
  const base: ImageConfig = {
    created: now,
    architecture: options.architecture ?? 'amd64',
    os: options.os ?? 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [{ created: now, created_by: 'Imported from -', comment: options.message ?? '' }],
  };
  if (options.variant) base.variant = options.variant;
  if (options.author) base.author = options.author;
  if (options.message) base.comment = options.message;
  // Changes are checked before any byte is stored.
  const config = applyChanges(base, options.changes ?? []);

  const { stream } = await decompress(body);
  const limit = new ByteLimit(options.maxBytes, 'the tarball');
  const diff = new DigestStream();
  const gz = new PassThrough({ highWaterMark: 1 << 20 });
  const piped = pipeline(stream, limit, diff, new TarCheck(), createGzip({ level: 1 }), gz);
  const stored = deps.blobs.putBlob(ref.name, gz);
  const [p, s] = await Promise.allSettled([piped, stored]);
  if (p.status === 'rejected') throw p.reason;
  if (s.status === 'rejected') throw s.reason;
  const blob = s.value;
  const diffId = diff.digest();
  await deps.sizes.set(blob.digest, diff.size);

  const layer = layerFrom({ open: () => openBlobStream(deps.blobs, ref.name, blob.digest), mediaType: MediaTypes.ociLayerGzip, digest: blob.digest, size: blob.size, diffId });
  const image = await buildImage({ config, layers: [layer], format: 'oci' });
  const rawConfig = await image.rawConfigFile();
  await deps.blobs.putBlob(ref.name, Readable.from([rawConfig]), await image.configName());
  const put = await deps.metadata.putManifest(ref.name, tag, await image.rawManifest(), await image.mediaType());
  return {
    reference: `${ref.name}:${tag}`,
    digest: put.digest,
    id: await image.configName(),
    layer: { digest: blob.digest, size: blob.size, diffId, uncompressedSize: diff.size },
  };
}
