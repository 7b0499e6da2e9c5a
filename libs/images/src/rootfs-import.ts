// `docker import` = copy(rootfs, local): a root filesystem tarball (plain or compressed) becomes a
// one-layer base image, in one pass: checked tar (decompress, expansion limits, tar rules) ->
// diff_id -> gzip -> blob store, as a streamed layer on an empty image. The config carries `-c`
// changes and a history entry with the message; the uncompressed size is remembered.
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import {
  DigestStream,
  MediaTypes,
  RegistryError,
  applyChanges,
  copy,
  emptyImage,
  mutate,
  streamingLayer,
  type Digest,
  type ImageConfig,
  parseLocalReference,
} from '@stevedore/oci';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import { checkedTar } from './archive-input';

import type { LayerSizeCache } from './layer-size-cache';
import { LocalImageSink } from './local-images';

export interface RootfsImportOptions {
  /** `repo[:tag]` to create; the tag defaults to `latest`. */
  reference: string;
  /** Dockerfile instructions applied to the config (`docker import -c`). */
  changes?: string[];
  /** `docker import -m`: the history entry's comment. */
  message?: string;
  author?: string;
  /** The file name or URL the tarball came from, as `docker import` was given it (default `-`, stdin). */
  source?: string;
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

/** `Imported from SOURCE`'s SOURCE: one line, as given, `-` when none. */
export function importSource(source: string | undefined): string {
  const line = [...(source ?? '')].map((ch) => (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f ? ' ' : ch)).join('');
  return line.trim() || '-';
}

export async function importRootfs(
  deps: { blobs: BlobService; metadata: MetadataService; sizes: LayerSizeCache },
  body: Readable,
  options: RootfsImportOptions,
): Promise<RootfsImportResult> {
  const ref = parseLocalReference(options.reference, { defaultTag: true });
  if (ref.digest)
    throw new RegistryError('INVALID_REQUEST', 'import needs REPOSITORY[:TAG], not a digest', { reference: options.reference });
  const tag = ref.tag ?? 'latest';
  const now = (options.now ?? new Date()).toISOString();
  const base: ImageConfig = {
    created: now,
    architecture: options.architecture ?? 'amd64',
    os: options.os ?? 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
  };
  if (options.variant) base.variant = options.variant;
  if (options.author) base.author = options.author;
  if (options.message) base.comment = options.message;
  // Changes are checked before any byte is stored.
  const config = applyChanges(base, options.changes ?? []);

  // The layer is made as it is stored: checked tar (decompressed, limits, tar rules) -> diff_id -> gzip.
  const layer = streamingLayer(MediaTypes.ociLayerGzip, async () => {
    const { tar } = await checkedTar(body, {
      maxBytes: options.maxBytes,
      maxExpansionRatio: options.maxExpansionRatio,
      allowDevices: options.allowDevices,
    });
    const diff = new DigestStream();
    const stored = new DigestStream();
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const made = pipeline(tar, diff, createGzip({ level: 1 }), stored, out);
    made.catch(() => undefined);
    return {
      stream: out,
      facts: made.then(() => ({ digest: stored.digest(), size: stored.size, diffId: diff.digest(), uncompressedSize: diff.size })),
    };
  });
  const image = mutate(emptyImage(config), {
    layer,
    history: { created: now, created_by: `Imported from ${importSource(options.source)}`, comment: options.message ?? '' },
  });
  const r = await copy(
    [{ artifact: { kind: 'image', image }, targets: [{ repository: ref.name, tag }] }],
    new LocalImageSink(deps.blobs, deps.metadata, deps.sizes),
  );
  const facts = await layer.facts();
  return {
    reference: `${ref.name}:${tag}`,
    digest: r.artifacts[0].digest,
    id: r.artifacts[0].configDigest!,
    layer: { digest: facts.digest, size: facts.size, diffId: facts.diffId, uncompressedSize: facts.uncompressedSize ?? 0 },
  };
}
