// Write a layer as an OCI layer tar (AUFS whiteouts), plain or gzip, hashing the uncompressed
// stream (diff_id) and the stored stream (digest) in the same pass.
import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type * as tar from 'tar-stream';
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

type TarHeader = Omit<Partial<tar.Header>, 'type'> & {
  name: string;
  // 'pax-header': tar-stream's encoder writes it; its types do not list it.
  type?: tar.Header['type'] | 'pax-header';
  pax?: Record<string, string>;
};

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

// tar-stream's own header encoder: the file its pack() writes headers with. The package exports only
// pack and extract; a relative require inside it is not subject to that map. Using it keeps the
// bytes exactly tar-stream's (layer digests already stored depend on them) without a stream per entry.
interface TarHeaderCodec {
  encode(header: TarHeader): Buffer | null;
  encodePax(opts: { name: string; linkname?: string; pax?: Record<string, string> }): Buffer;
}
const tarHeaders = createRequire(require.resolve('tar-stream'))('./headers.js') as TarHeaderCodec;

const ZEROS = Buffer.alloc(1024);

/**
 * The blocks that precede an entry's body, as tar-stream's pack.entry() writes them: its defaults
 * (mode 0 becomes 0644/0755, a symlink's size 0), ustar when the header fits, else a pax header.
 */
export function encodeTarHeader(input: TarHeader): Buffer[] {
  const header: TarHeader = { ...input };
  if (!header.size || header.type === 'symlink') header.size = 0;
  if (!header.mode) header.mode = header.type === 'directory' ? 0o755 : 0o644;
  if (!header.uid) header.uid = 0;
  if (!header.gid) header.gid = 0;
  if (header.type === 'symlink' && !header.linkname) header.linkname = '';
  if (!header.pax) {
    const ustar = tarHeaders.encode(header);
    if (ustar) return [ustar];
  }
  const pax = tarHeaders.encodePax({ name: header.name, linkname: header.linkname, pax: header.pax });
  const paxHeader: TarHeader = {
    name: 'PaxHeader',
    mode: header.mode,
    uid: header.uid,
    gid: header.gid,
    size: pax.byteLength,
    mtime: header.mtime,
    type: 'pax-header',
    linkname: header.linkname && 'PaxHeader',
    uname: header.uname,
    gname: header.gname,
    devmajor: header.devmajor,
    devminor: header.devminor,
  };
  const out = [tarHeaders.encode(paxHeader)!, pax];
  if (pax.byteLength % 512) out.push(ZEROS.subarray(0, 512 - (pax.byteLength % 512)));
  out.push(tarHeaders.encode({ ...paxHeader, size: header.size, type: header.type })!);
  return out;
}

/** Stream `layer` as a tar into `out`. Same layer and options give the same bytes. */
export async function writeLayer(layer: Layer, out: Writable, options: WriteLayerOptions): Promise<WrittenLayer> {
  const gzip = (options.compression ?? 'gzip') === 'gzip';
  const diff = new DigestStream();
  const stored = new DigestStream();
  // Node's gzip header carries mtime 0 and no file name, so the compressed bytes are stable too.
  const done = gzip ? pipeline(diff, createGzip({ level: options.gzipLevel ?? 6 }), stored, out) : pipeline(diff, stored, out);
  done.catch(() => undefined);
  // Headers, small bodies and padding are copied into 1 MiB blocks, so the hash and the compressor
  // see a few big writes, and an entry costs no stream and no promise of its own.
  const blocks = new BlockWriter(diff, BLOCK_BYTES, done);
  const open = options.body ?? ((d: Digest) => Promise.resolve(options.contentStore.open(d)));
  try {
    for (const e of toAufsWhiteouts(layer.entries)) {
      const body = e.type === 'file' && e.size > 0 && e.digest ? await open(e.digest, e.size) : undefined;
      const header = tarHeader(e, options.normalize);
      if (!body) {
        // tar-stream's pack sets the size from the (empty) body it was given.
        for (const b of encodeTarHeader({ ...header, size: 0 })) if (blocks.add(b)) await blocks.flush();
        continue;
      }
      if (body instanceof Uint8Array) {
        // A body given whole sets the header's size; a short or long one would corrupt the tar.
        if (body.byteLength !== header.size)
          throw new Error(`content of "${header.name}" is ${body.byteLength} bytes, the entry says ${header.size}`);
        for (const b of encodeTarHeader(header)) if (blocks.add(b)) await blocks.flush();
        if (blocks.add(body)) await blocks.flush();
      } else {
        for (const b of encodeTarHeader(header)) if (blocks.add(b)) await blocks.flush();
        let written = 0;
        try {
          for await (const chunk of body as AsyncIterable<Buffer>) {
            written += chunk.byteLength;
            if (written > header.size!) break;
            if (blocks.add(chunk)) await blocks.flush();
          }
        } finally {
          // Stopped early (too long, or the pipeline failed): the source is not read further.
          if (!(body as Readable).readableEnded) (body as Readable).destroy();
        }
        if (written !== header.size) throw new Error(`content of "${header.name}" is not the ${header.size} bytes the entry says`);
      }
      const pad = header.size! % 512;
      if (pad && blocks.add(ZEROS.subarray(0, 512 - pad))) await blocks.flush();
    }
    if (blocks.add(ZEROS)) await blocks.flush();
    await blocks.end();
  } catch (err) {
    diff.destroy(err as Error);
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

const BLOCK_BYTES = 1 << 20;

/** Gathers bytes into blocks of `size` and writes each to `out`, honouring its backpressure. */
class BlockWriter {
  private block: Buffer;
  private used = 0;
  /** Written, but `out` asked to wait. */
  private full = false;
  constructor(
    private readonly out: Writable,
    private readonly size: number,
    /** The pipeline `out` heads: it fails when any stage fails, so a wait for 'drain' never hangs. */
    private readonly done: Promise<void>,
  ) {
    this.block = Buffer.allocUnsafe(size);
  }

  /** Adds bytes (copied, unless a whole block or more arrives at a block boundary); true: await flush() before the next add. */
  add(bytes: Uint8Array): boolean {
    let offset = 0;
    while (offset < bytes.byteLength) {
      if (this.used === 0 && bytes.byteLength - offset >= this.size) {
        // Already large: passed on as it is (a big file's chunks are not copied).
        this.write(Buffer.from(bytes.buffer, bytes.byteOffset + offset, bytes.byteLength - offset));
        break;
      }
      const n = Math.min(this.size - this.used, bytes.byteLength - offset);
      this.block.set(bytes.subarray(offset, offset + n), this.used);
      this.used += n;
      offset += n;
      if (this.used === this.size) {
        this.write(this.block);
        this.block = Buffer.allocUnsafe(this.size);
        this.used = 0;
      }
    }
    return this.full;
  }

  private write(chunk: Buffer): void {
    if (!this.out.write(chunk)) this.full = true;
  }

  async flush(): Promise<void> {
    if (!this.full) return;
    await Promise.race([once(this.out, 'drain'), this.done]);
    this.full = false;
  }

  async end(): Promise<void> {
    if (this.used > 0) this.write(this.block.subarray(0, this.used));
    this.used = 0;
    this.out.end();
  }
}
