// Read an OCI layer tar (plain or gzip, detected from its first bytes) into a Layer, storing file
// contents in a ContentStore and refusing anything that could write outside the root.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { DigestStream, type Digest } from '@stevedore/oci';
import { fromAufsWhiteouts } from './aufs-whiteouts';
import type { ContentStore } from './content-store';
import { layerOf, sameEntry, type Entry, type EntryType, type Layer } from './entry';
import { fromOverlayWhiteouts } from './overlay-whiteouts';
import { ancestorsOf, cleanPath, resolveLinkTarget } from './paths';
import { UnsafeTarError } from './unsafe-tar-error';

export interface TarLimits {
  /** Largest single entry, bytes. */
  maxEntrySize: number;
  /** Sum of all entry sizes, bytes. */
  maxTotalSize: number;
  maxEntries: number;
}

export const DEFAULT_TAR_LIMITS: TarLimits = {
  maxEntrySize: 8 * 2 ** 30,
  maxTotalSize: 64 * 2 ** 30,
  maxEntries: 1_000_000,
};

export interface ReadLayerOptions {
  contentStore: ContentStore;
  limits?: Partial<TarLimits>;
  /** Also read overlay-form whiteouts (0:0 char devices, opaque xattr), as some tools emit them. */
  overlayWhiteouts?: boolean;
}

export interface ReadLayerResult {
  layer: Layer;
  digest: Digest;
  diffId: Digest;
  size: number;
  uncompressedSize: number;
  compression: 'gzip' | 'none';
}

const ENTRY_TYPES: Partial<Record<tar.Header['type'], EntryType>> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char-device',
  'block-device': 'block-device',
  fifo: 'fifo',
};

/** Resolves with the first bytes and a stream that replays them followed by the rest. */
async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = input[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head = Buffer.concat([head, Buffer.from(r.value)]);
  }
  async function* replay() {
    if (head.length > 0) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value);
    }
  }
  return { head, stream: Readable.from(replay()) };
}

export async function readLayer(input: Readable, options: ReadLayerOptions): Promise<ReadLayerResult> {
  const limits = { ...DEFAULT_TAR_LIMITS, ...options.limits };
  const stored = new DigestStream();
  const diff = new DigestStream();
  const { head, stream } = await peek(input, 2);
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const extract = tar.extract();

  const entries = new Map<string, Entry>();
  const symlinks = new Set<string>();
  let count = 0;
  let total = 0;

  const readEntry = async (header: tar.Header, body: Readable): Promise<void> => {
    const raw = header.name;
    if (++count > limits.maxEntries) throw new UnsafeTarError('too-many-entries', raw, `more than ${limits.maxEntries} entries`);
    if (raw.startsWith('/')) throw new UnsafeTarError('absolute-path', raw, 'entry names must be relative');
    const path = cleanPath(raw);
    if (path === undefined) throw new UnsafeTarError('parent-traversal', raw, "'..' is not allowed in entry names");
    const type = ENTRY_TYPES[header.type ?? 'file'];
    if (!type) throw new UnsafeTarError('unsupported-type', raw, `tar entry type ${header.type}`);
    const size = type === 'file' ? header.size ?? 0 : 0;
    if (size > limits.maxEntrySize) throw new UnsafeTarError('entry-too-large', path, `${size} bytes exceeds ${limits.maxEntrySize}`);
    total += size;
    if (total > limits.maxTotalSize) throw new UnsafeTarError('layer-too-large', path, `layer contents exceed ${limits.maxTotalSize} bytes`);
    // Extracting 'link/x' after 'link -> /etc' would write through the symlink.
    for (const a of ancestorsOf(path)) {
      if (symlinks.has(a)) throw new UnsafeTarError('through-symlink', path, `parent "${a}" is a symlink in this layer`);
    }
    const linkname = header.linkname ?? '';
    if (type === 'symlink' && resolveLinkTarget(path, linkname) === undefined) {
      throw new UnsafeTarError('symlink-escape', path, `target "${linkname}" leaves the root`);
    }
    if (type === 'hardlink') {
      const target = linkname.startsWith('/') ? undefined : cleanPath(linkname);
      if (!target || [...ancestorsOf(target), target].some((a) => symlinks.has(a))) {
        throw new UnsafeTarError('hardlink-escape', path, `target "${linkname}" is outside the root or behind a symlink`);
      }
    }
    if (path === '') {
      // The root's own entry ('./'): extractors would chmod the rootfs; a layer does not own the root.
      body.resume();
      return;
    }

    const entry: Entry = {
      path,
      type,
      mode: (header.mode ?? 0) & 0o7777,
      uid: header.uid ?? 0,
      gid: header.gid ?? 0,
      mtime: Math.floor((header.mtime?.getTime() ?? 0) / 1000),
      size,
    };
    if (type === 'symlink') entry.linkname = linkname;
    if (type === 'hardlink') entry.linkname = cleanPath(linkname);
    if (type === 'char-device' || type === 'block-device') {
      entry.devmajor = header.devmajor ?? 0;
      entry.devminor = header.devminor ?? 0;
    }
    const xattrs = Object.entries((header.pax ?? {}) as Record<string, string>).filter(([k]) => k.startsWith('SCHILY.xattr.'));
    if (xattrs.length > 0) entry.xattrs = Object.fromEntries(xattrs.map(([k, v]) => [k.slice('SCHILY.xattr.'.length), v]));
    if (type === 'file') {
      const ref = await options.contentStore.put(body);
      entry.digest = ref.digest;
    } else {
      body.resume();
    }

    const prev = entries.get(path);
    if (prev) {
      if (!sameEntry(prev, entry)) throw new UnsafeTarError('duplicate-entry', path, 'the path appears twice with different contents');
      return;
    }
    entries.set(path, entry);
    if (type === 'symlink') symlinks.add(path);
  };

  const extracted = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      readEntry(header, body as unknown as Readable).then(
        () => next(),
        (err) => {
          reject(err);
          next(err);
        },
      );
    });
    extract.on('finish', resolve);
    extract.on('close', resolve);
    extract.on('error', reject);
  });
  const streams: NodeJS.ReadWriteStream[] = gzip ? [stored, createGunzip(), diff] : [stored, diff];
  const piped = pipeline(stream, ...(streams as [NodeJS.ReadWriteStream]), extract as unknown as NodeJS.WritableStream);
  piped.catch(() => undefined);
  await Promise.all([extracted, piped]);

  let result = [...entries.values()];
  if (options.overlayWhiteouts) result = fromOverlayWhiteouts(result);
  return {
    layer: layerOf(fromAufsWhiteouts(result)),
    digest: stored.digest(),
    diffId: diff.digest(),
    size: stored.size,
    uncompressedSize: diff.size,
    compression: gzip ? 'gzip' : 'none',
  };
}
