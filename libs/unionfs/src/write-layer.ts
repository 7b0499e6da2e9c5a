// Write a layer as an OCI layer tar (AUFS whiteouts), plain or gzip, hashing the uncompressed
// stream (diff_id) and the stored stream (digest) in the same pass.
import { Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { DigestStream, MediaTypes, type Digest } from '@stevedore/oci';
import { toAufsWhiteouts } from './aufs-whiteouts';
import type { ContentStore } from './content-store';
import type { Entry, Layer } from './entry';

export interface NormalizeOptions {
  uid?: number;
  gid?: number;
  /** Like SOURCE_DATE_EPOCH in BuildKit: later mtimes are clamped to this (seconds). */
  mtime?: number;
}

export interface WriteLayerOptions {
  contentStore: ContentStore;
  /**
   * A file's body, instead of `contentStore.open`: a Buffer is packed in one piece, with no stream
   * per file (the cost that dominates a layer of many small files); a Readable is streamed.
   */
  body?: (digest: Digest, size: number) => Promise<Uint8Array | Readable>;
  /** Default gzip. */
  compression?: 'gzip' | 'none';
  gzipLevel?: number;
  normalize?: NormalizeOptions;
}

export interface WrittenLayer {
  /** Digest of the bytes written to `out` (the blob). */
  digest: Digest;
  /** Digest of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: Digest;
  size: number;
  uncompressedSize: number;
  mediaType: string;
}

type TarHeader = Partial<tar.Header> & { name: string; pax?: Record<string, string> };

const TAR_TYPES: Record<Exclude<Entry['type'], 'whiteout'>, tar.Header['type']> = {
  file: 'file',
  directory: 'directory',
  symlink: 'symlink',
  hardlink: 'link',
  'char-device': 'character-device',
  'block-device': 'block-device',
  fifo: 'fifo',
};

export function tarHeader(e: Entry, normalize: NormalizeOptions = {}): TarHeader {
  if (e.type === 'whiteout') throw new Error(`whiteout "${e.path}" must be converted before it is written`);
  const mtime = normalize.mtime !== undefined ? Math.min(e.mtime, normalize.mtime) : e.mtime;
  const header: TarHeader = {
    name: e.type === 'directory' ? `${e.path}/` : e.path,
    type: TAR_TYPES[e.type],
    mode: e.mode & 0o7777,
    uid: normalize.uid ?? e.uid,
    gid: normalize.gid ?? e.gid,
    mtime: new Date(mtime * 1000),
    size: e.type === 'file' ? e.size : 0,
    uname: '',
    gname: '',
  };
  if (e.linkname !== undefined && (e.type === 'symlink' || e.type === 'hardlink')) header.linkname = e.linkname;
  if (e.type === 'char-device' || e.type === 'block-device') {
    header.devmajor = e.devmajor ?? 0;
    header.devminor = e.devminor ?? 0;
  }
  const keys = Object.keys(e.xattrs ?? {}).sort();
  if (keys.length > 0) header.pax = Object.fromEntries(keys.map((k) => [`SCHILY.xattr.${k}`, e.xattrs![k]]));
  return header;
}

function addEntry(pack: tar.Pack, header: TarHeader, body?: NodeJS.ReadableStream | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!body || body instanceof Uint8Array) {
      // A body given whole sets the header's size; a short or long one would corrupt the tar.
      if (body && body.byteLength !== header.size) {
        reject(new Error(`content of "${header.name}" is ${body.byteLength} bytes, the entry says ${header.size}`));
        return;
      }
      pack.entry(header, body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : Buffer.alloc(0), (err) =>
        err ? reject(err) : resolve(),
      );
      return;
    }
    const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
    body.on('error', (err) => {
      sink.destroy(err);
      reject(err);
    });
    body.pipe(sink);
  });
}

/** Stream `layer` as a tar into `out`. Same layer and options give the same bytes. */
export async function writeLayer(layer: Layer, out: Writable, options: WriteLayerOptions): Promise<WrittenLayer> {
  const gzip = (options.compression ?? 'gzip') === 'gzip';
  const pack = tar.pack();
  const diff = new DigestStream();
  const stored = new DigestStream();
  // Node's gzip header carries mtime 0 and no file name, so the compressed bytes are stable too.
  pack.on('error', () => undefined);
  // The tar's pieces (512-byte headers, small bodies, padding) are gathered into large chunks, so
  // the hash and the compressor see a few big writes rather than three per entry.
  const blocks = new Coalesce(COALESCE_BYTES);
  const done = gzip
    ? pipeline(blocks, diff, createGzip({ level: options.gzipLevel ?? 6 }), stored, out)
    : pipeline(blocks, diff, stored, out);
  pack.pipe(blocks);
  const open = options.body ?? ((d: Digest) => Promise.resolve(options.contentStore.open(d)));
  try {
    for (const e of toAufsWhiteouts(layer.entries)) {
      const body = e.type === 'file' && e.size > 0 && e.digest ? await open(e.digest, e.size) : undefined;
      await addEntry(pack, tarHeader(e, options.normalize), body);
    }
    pack.finalize();
  } catch (err) {
    blocks.destroy(err as Error);
    await done.catch(() => undefined);
    throw err;
  }
  await done;
  return {
    digest: stored.digest(),
    diffId: diff.digest(),
    size: stored.size,
    uncompressedSize: diff.size,
    mediaType: gzip ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer,
  };
}

const COALESCE_BYTES = 1 << 20;

/** Passes bytes on in chunks of `size` (the last one shorter); the bytes themselves are unchanged. */
class Coalesce extends Transform {
  private block: Buffer;
  private used = 0;
  constructor(private readonly size: number) {
    super({ writableHighWaterMark: size });
    this.block = Buffer.allocUnsafe(size);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.used === 0 && chunk.length - offset >= this.size) {
        // Already large: passed on as it is (a big file's chunks are not copied).
        this.push(chunk.subarray(offset));
        break;
      }
      const n = chunk.copy(this.block, this.used, offset);
      this.used += n;
      offset += n;
      if (this.used === this.size) {
        this.push(this.block);
        this.block = Buffer.allocUnsafe(this.size);
        this.used = 0;
      }
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.used > 0) this.push(this.block.subarray(0, this.used));
    cb();
  }
}
