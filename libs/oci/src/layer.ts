// A layer as every source and sink sees it (go-containerregistry's v1.Layer), and helpers that derive
// the whole interface from the least a source knows.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Digester, digestOf, type Digest } from './digest';
import { decompressStream } from './compression';
import { MediaTypes } from './media-types';

export interface Layer {
  /** Digest of the bytes as stored and transferred (compressed, if the media type says so). */
  digest(): Promise<Digest>;
  /** Digest of the uncompressed tar: the image config's rootfs.diff_ids entry. */
  diffId(): Promise<Digest>;
  /** Size of the compressed bytes. */
  size(): Promise<number>;
  mediaType(): Promise<string>;
  compressed(): Promise<Readable>;
  /** The tar, decompressed when the blob is gzip (bzip2/xz/zstd raise UNSUPPORTED). */
  uncompressed(): Promise<Readable>;
  /**
   * Where the bytes already are, when a store holds them (go-containerregistry's MountableLayer):
   * a sink that is that store links them into another repository instead of copying bytes.
   */
  readonly origin?: LayerOrigin;
}

export interface LayerOrigin {
  /** Which store (ImageSink.store names the same): 'local' for this registry. */
  store: string;
  repository: string;
}

/** Digest and count a stream, to the end. */
export async function digestStream(stream: Readable): Promise<{ digest: Digest; size: number }> {
  const d = new Digester();
  await pipeline(stream, async function (src: AsyncIterable<Buffer>) {
    for await (const chunk of src) d.update(chunk);
  });
  return { digest: d.digest(), size: d.size };
}

export async function uncompressedOf(compressed: Readable): Promise<Readable> {
  return (await decompressStream(compressed)).stream;
}

export interface LayerSource {
  /** Opens the stored (compressed) bytes; called once per read. */
  open(): Promise<Readable>;
  mediaType: string;
  digest?: Digest;
  /** Known, or read from where the source keeps it (an image's config), only when asked. */
  diffId?: Digest | (() => Promise<Digest>);
  size?: number;
  origin?: LayerOrigin;
}

/**
 * A Layer from an opener and whatever is already known; missing facts are computed by reading the
 * blob (once, then remembered).
 */
export function layerFrom(src: LayerSource): Layer {
  let stats: Promise<{ digest: Digest; size: number }> | undefined;
  let diff: Promise<Digest> | undefined;
  const compressedStats = () => (stats ??= src.open().then(digestStream));
  return {
    ...(src.origin ? { origin: src.origin } : {}),
    digest: async () => src.digest ?? (await compressedStats()).digest,
    size: async () => src.size ?? (await compressedStats()).size,
    mediaType: async () => src.mediaType,
    compressed: () => src.open(),
    uncompressed: async () => uncompressedOf(await src.open()),
    diffId: () => {
      if (typeof src.diffId === 'function') return (diff ??= src.diffId());
      if (src.diffId) return Promise.resolve(src.diffId);
      diff ??= src
        .open()
        .then(uncompressedOf)
        .then(digestStream)
        .then((s) => s.digest);
      return diff;
    },
  };
}

/** An in-memory layer; the media type defaults to gzip-compressed OCI. */
export function layerFromBytes(bytes: Buffer, mediaType: string = MediaTypes.ociLayerGzip, diffId?: Digest): Layer {
  return layerFrom({ open: async () => Readable.from([bytes]), mediaType, digest: digestOf(bytes), size: bytes.length, diffId });
}

/** A layer still being produced (a commit's or an import's new layer): its digests exist once it was read. */
export interface StreamingLayer extends Layer {
  readonly streaming: true;
  /** What the read learnt (waits for it). */
  facts(): Promise<StreamedFacts>;
}

export function isStreamingLayer(l: Layer): l is StreamingLayer {
  return (l as Partial<StreamingLayer>).streaming === true;
}

export interface StreamedFacts {
  digest: Digest;
  size: number;
  diffId: Digest;
  /** Bytes of the tar, when the producer counted them (for `docker images`). */
  uncompressedSize?: number;
}

/**
 * A layer read once from `produce`, which returns the compressed bytes and a promise of their facts
 * (settled when the stream ends). Its digest, size and diff_id wait for that read; a copy stores
 * such a layer before it asks the image for its config and manifest (go-containerregistry's
 * stream.Layer).
 */
export function streamingLayer(
  mediaType: string,
  produce: () => Promise<{ stream: Readable; facts: Promise<StreamedFacts> }>,
): StreamingLayer {
  let facts: Promise<StreamedFacts> | undefined;
  let settle!: (f: Promise<StreamedFacts>) => void;
  const known = new Promise<StreamedFacts>((resolve, reject) => {
    settle = (f) => f.then(resolve, reject);
  });
  known.catch(() => undefined);
  return {
    streaming: true,
    mediaType: async () => mediaType,
    compressed: async () => {
      if (facts) throw new Error('a streamed layer can be read once');
      const p = await produce();
      facts = p.facts;
      settle(p.facts);
      return p.stream;
    },
    uncompressed: async () => {
      throw new Error('a streamed layer is read compressed, once');
    },
    facts: () => known,
    digest: async () => (await known).digest,
    size: async () => (await known).size,
    diffId: async () => (await known).diffId,
  };
}
