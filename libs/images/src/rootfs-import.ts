// `docker import`: a root filesystem tarball (plain or compressed) becomes a one-layer base image,
// in one pass: checked tar (decompress, expansion limits, tar rules) -> diff_id -> gzip -> blob store. The config
// carries `-c` changes, a history entry with the message, and the uncompressed size is remembered.
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
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
import { checkedTar } from './archive-input';
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
  /** Refuse past 64 MiB when the tarball expands more than this many times (default 100). */
  maxExpansionRatio?: number;
  /** Device files are for admins. */
  allowDevices?: boolean;
  now?: Date;
}

export interface RootfsImportResult {
  reference: string;
  digest: Digest;
  id: Digest;
  layer: { digest: Digest; size: number; diffId: Digest; uncompressedSize: number };
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

  const { tar } = await checkedTar(body, { maxBytes: options.maxBytes, maxExpansionRatio: options.maxExpansionRatio, allowDevices: options.allowDevices });
  const diff = new DigestStream();
  const gz = new PassThrough({ highWaterMark: 1 << 20 });
  const piped = pipeline(tar, diff, createGzip({ level: 1 }), gz);
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
