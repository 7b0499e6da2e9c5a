// Write a layer as an OCI layer tar (AUFS whiteouts), plain or gzip, hashing the uncompressed
// stream (diff_id) and the stored stream (digest) in the same pass.
import { Writable } from 'node:stream';
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

function addEntry(pack: tar.Pack, header: TarHeader, body?: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!body) {
      pack.entry(header, Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
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
  const done = gzip ? pipeline(diff, createGzip({ level: options.gzipLevel ?? 6 }), stored, out) : pipeline(diff, stored, out);
  pack.pipe(diff);
  try {
    for (const e of toAufsWhiteouts(layer.entries)) {
      const body = e.type === 'file' && e.size > 0 && e.digest ? await options.contentStore.open(e.digest) : undefined;
      await addEntry(pack, tarHeader(e, options.normalize), body);
    }
    pack.finalize();
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
