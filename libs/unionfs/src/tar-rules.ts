// The one rule set for every tar the platform reads from a client (a layer, a container archive, a
// `docker import` rootfs, `cp` into a container): nothing may name or reach a path outside the root,
// nothing may write through a link, and sizes stay within limits. readLayer applies it while it
// stores an archive; TarCheck applies it to a tar passing through on its way elsewhere.
import { Transform, type TransformCallback } from 'node:stream';
import * as tar from 'tar-stream';
import { RegistryError } from '@stevedore/oci';
import type { EntryType } from './entry';
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

export interface TarRuleOptions {
  limits?: Partial<TarLimits>;
  /**
   * Device files (other than the 0:0 character device of an overlay whiteout) are refused unless
   * set: only privileged callers may create them.
   */
  allowDevices?: boolean;
}

export const ENTRY_TYPES: Partial<Record<tar.Header['type'], EntryType>> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char-device',
  'block-device': 'block-device',
  fifo: 'fifo',
};

export interface CheckedHeader {
  /** The clean relative path ('' for the root's own entry). */
  path: string;
  type: EntryType;
  size: number;
  linkname: string;
}

/** The rules, with the state they need across one archive (its symlinks, counts and sizes). */
export class TarRules {
  readonly limits: TarLimits;
  private readonly symlinks = new Set<string>();
  private count = 0;
  private total = 0;

  constructor(private readonly options: TarRuleOptions = {}) {
    this.limits = { ...DEFAULT_TAR_LIMITS, ...options.limits };
  }

  get entries(): number {
    return this.count;
  }

  /** Check the next header of the archive; throws UnsafeTarError naming the entry and the reason. */
  check(header: tar.Header): CheckedHeader {
    const raw = header.name;
    const limits = this.limits;
    if (++this.count > limits.maxEntries) throw new UnsafeTarError('too-many-entries', raw, `more than ${limits.maxEntries} entries`);
    if (raw.startsWith('/')) throw new UnsafeTarError('absolute-path', raw, 'entry names must be relative');
    const path = cleanPath(raw);
    if (path === undefined) throw new UnsafeTarError('parent-traversal', raw, "'..' is not allowed in entry names");
    const type = ENTRY_TYPES[header.type ?? 'file'];
    if (!type) throw new UnsafeTarError('unsupported-type', raw, `tar entry type ${header.type}`);
    if ((type === 'char-device' || type === 'block-device') && !this.options.allowDevices) {
      const whiteout = type === 'char-device' && (header.devmajor ?? 0) === 0 && (header.devminor ?? 0) === 0;
      if (!whiteout) throw new UnsafeTarError('device-file', path, 'device files may only be created by an admin');
    }
    const size = type === 'file' ? (header.size ?? 0) : 0;
    if (size > limits.maxEntrySize) throw new UnsafeTarError('entry-too-large', path, `${size} bytes exceeds ${limits.maxEntrySize}`);
    this.total += size;
    if (this.total > limits.maxTotalSize) throw new UnsafeTarError('layer-too-large', path, `contents exceed ${limits.maxTotalSize} bytes`);
    // Extracting 'link/x' after 'link -> /etc' would write through the symlink.
    for (const a of ancestorsOf(path)) {
      if (this.symlinks.has(a)) throw new UnsafeTarError('through-symlink', path, `parent "${a}" is a symlink in this archive`);
    }
    const linkname = header.linkname ?? '';
    if (type === 'symlink' && resolveLinkTarget(path, linkname) === undefined) {
      throw new UnsafeTarError('symlink-escape', path, `target "${linkname}" leaves the root`);
    }
    if (type === 'hardlink') {
      const target = linkname.startsWith('/') ? undefined : cleanPath(linkname);
      if (!target || [...ancestorsOf(target), target].some((a) => this.symlinks.has(a))) {
        throw new UnsafeTarError('hardlink-escape', path, `target "${linkname}" is outside the root or behind a symlink`);
      }
    }
    if (type === 'symlink') this.symlinks.add(path);
    return { path, type, size, linkname };
  }
}

/** A failure of the tar format itself (not a tar, corrupt, truncated), as the rules report it; other failures pass. */
export function corruptTar(e: unknown): Error {
  if (e instanceof UnsafeTarError || RegistryError.is(e)) return e;
  return new UnsafeTarError(
    'not-a-tar',
    '',
    `not a readable tar (corrupt or truncated): ${String((e as Error)?.message ?? e).slice(0, 200)}`,
  );
}

const BLOCK = 512;

/**
 * Passes a tar through unchanged while reading it with the rules: the stream fails (and stops
 * reading) at the first unsafe entry or unreadable header, so a body that is not a tar fails after
 * its first header block, whatever its size. An archive with no entries fails too.
 */
export class TarCheck extends Transform {
  private readonly extract = tar.extract();
  private readonly rules: TarRules;
  private failure: Error | undefined;
  private waiting: (() => void) | undefined;
  private seen = 0;
  private zeroHead = true;
  private readonly finished: Promise<void>;
  private settle!: () => void;

  constructor(options: TarRuleOptions = {}) {
    super();
    this.rules = new TarRules(options);
    this.finished = new Promise<void>((resolve) => {
      // A refused entry stalls the extractor for good: failing settles the wait for its end too.
      this.settle = resolve;
      this.extract.on('entry', (header, body, next) => {
        try {
          this.rules.check(header);
        } catch (e) {
          // No next(): the extractor stops taking bytes, and the transform fails with this.
          body.resume();
          this.fail(e as Error);
          return;
        }
        body.on('end', () => next());
        body.resume();
      });
      this.extract.on('finish', () => resolve());
      this.extract.on('close', () => resolve());
      this.extract.on('error', (e: Error) => {
        this.fail(corruptTar(e));
        resolve();
      });
    });
  }

  get entries(): number {
    return this.rules.entries;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.settle();
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    if (this.failure) return cb(this.failure);
    // An archive that starts with an end-of-archive block holds nothing: say so now, not at the end.
    if (this.seen < BLOCK) {
      const head = chunk.subarray(0, BLOCK - this.seen);
      this.seen += head.length;
      this.zeroHead &&= head.every((b) => b === 0);
      if (this.seen === BLOCK && this.zeroHead) return cb(new UnsafeTarError('empty-archive', '', 'the tarball holds no files'));
    }
    const go = () => (this.failure ? cb(this.failure) : cb(null, chunk));
    if (this.extract.write(chunk)) return go();
    this.waiting = go;
    this.extract.once('drain', () => {
      if (this.waiting !== go) return;
      this.waiting = undefined;
      go();
    });
  }

  override _flush(cb: TransformCallback): void {
    if (this.failure) return cb(this.failure);
    // tar-stream's types give end() a required argument it does not need.
    (this.extract as unknown as { end(): void }).end();
    this.finished.then(() =>
      cb(this.failure ?? (this.rules.entries === 0 ? new UnsafeTarError('empty-archive', '', 'the tarball holds no files') : undefined)),
    );
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.extract.destroy();
    cb(err);
  }
}

export interface ExpansionLimits {
  /** Most uncompressed bytes one archive may become. */
  maxBytes: number;
  /** Past `ratioAfterBytes`, refuse when uncompressed bytes exceed this many times the compressed ones. */
  maxRatio: number;
  ratioAfterBytes: number;
}

export const DEFAULT_EXPANSION: Omit<ExpansionLimits, 'maxBytes'> = { maxRatio: 100, ratioAfterBytes: 64 * 2 ** 20 };

/**
 * Counts decompressed bytes as they pass and stops a decompression bomb early: past the absolute
 * limit, or past `ratioAfterBytes` when the output outgrows the compressed input by `maxRatio`.
 * `compressed()` reports the compressed bytes read so far (counted before the decompressor).
 */
export class ExpansionGuard extends Transform {
  bytes = 0;
  constructor(
    private readonly limits: ExpansionLimits,
    private readonly compressed: () => number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    const l = this.limits;
    if (this.bytes > l.maxBytes)
      return cb(new UnsafeTarError('expansion', '', `the archive expands past the limit of ${l.maxBytes} bytes`));
    if (this.bytes > l.ratioAfterBytes && this.bytes > l.maxRatio * Math.max(1, this.compressed())) {
      return cb(new UnsafeTarError('expansion', '', `the archive expands more than ${l.maxRatio} times (a decompression bomb?)`));
    }
    cb(null, chunk);
  }
}
