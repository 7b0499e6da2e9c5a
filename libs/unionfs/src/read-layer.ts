// Read an OCI layer tar (plain or gzip, detected from its first bytes) into a Layer, storing file
// contents in a ContentStore and refusing anything that could write outside the root.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { DigestStream, type Digest } from '@stevedore/oci';
import { fromAufsWhiteouts } from './aufs-whiteouts';
import type { ContentStore } from './content-store';
import { layerOf, sameEntry, type Entry, type Layer } from './entry';
import { fromOverlayWhiteouts } from './overlay-whiteouts';
import { cleanPath } from './paths';
import { UnsafeTarError } from './unsafe-tar-error';
import { ExpansionGuard, TarRules, corruptTar, type ExpansionLimits, type TarRuleOptions } from './tar-rules';

export interface ReadLayerOptions extends TarRuleOptions {
  contentStore: ContentStore;
  /** Decompression limits (gzip layers); absent: only the tar limits apply. */
  expansion?: ExpansionLimits;
  /** Refuse an archive with no entries (a client's upload; an empty image layer is fine). */
  requireEntries?: boolean;
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
  const rules = new TarRules(options);
  const stored = new DigestStream();
  const diff = new DigestStream();
  const { head, stream } = await peek(input, 2);
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const extract = tar.extract();
  const entries = new Map<string, Entry>();

  const readEntry = async (header: tar.Header, body: Readable): Promise<void> => {
    const { path, type, size, linkname } = rules.check(header);
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
  };

  // The entry being stored: when the archive fails mid-file, its body must fail too, or the store
  // would wait for the rest of the file forever, holding a descriptor and a temporary file.
  let inFlight: { body: Readable; done: Promise<void> } | undefined;
  const extracted = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Readable types.
      const done = readEntry(header, body as unknown as Readable);
      // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Readable types.
      inFlight = { body: body as unknown as Readable, done };
      done.then(
        () => next(),
        (err) => {
          reject(err);
          next(err);
        },
      );
    });
    extract.on('finish', resolve);
    extract.on('close', resolve);
    extract.on('error', (e) => reject(corruptTar(e)));
  });
  const inflate: NodeJS.ReadWriteStream[] = gzip
    ? [createGunzip(), ...(options.expansion ? [new ExpansionGuard(options.expansion, () => stored.size)] : [])]
    : [];
  const piped = pipeline(stream, stored, ...(inflate as []), diff, extract);
  piped.catch(() => undefined);
  extracted.catch(() => undefined);
  // A corrupt gzip or a bomb fails the pipeline; a bad entry fails the extraction: either is the answer.
  try {
    await Promise.all([extracted, piped.catch((e: unknown) => Promise.reject(corruptTar(e)))]);
  } catch (e) {
    const pending = inFlight as { body: Readable; done: Promise<void> } | undefined;
    if (pending && !pending.body.destroyed) {
      // Its reader (the content store) sees the error; nobody else need listen.
      pending.body.on('error', () => undefined);
      pending.body.destroy(e as Error);
    }
    await pending?.done.catch(() => undefined);
    throw e;
  }
  if (rules.entries === 0 && options.requireEntries) throw new UnsafeTarError('empty-archive', '', 'the tarball holds no files');

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
