// One filesystem entry of a layer or a tree, as plain JSON so a read-write layer's index can live
// in Redis. File bytes are not held here: `digest` names them in a ContentStore.
import type { Digest } from '@stevedore/oci';
import { comparePaths } from './paths';

/** 'whiteout' is the format-neutral deletion marker; the tar and overlay forms are converted to it. */
export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo' | 'whiteout';

export interface Entry {
  /** Relative to the root, no leading or trailing slash ('etc/passwd'). */
  path: string;
  type: EntryType;
  /** Permission bits (07777); the type lives in `type`. */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch; tar headers carry whole seconds. */
  mtime: number;
  /** Content length for files, 0 for everything else. */
  size: number;
  /** Content digest (sha256 of the file bytes) for files. */
  digest?: Digest;
  /** Symlink target as written, or the hardlink's target path. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, string>;
  /** A directory that hides everything lower layers had beneath it. */
  opaque?: boolean;
}

/** A layer is a changeset: entries added or changed, whiteouts for removals. */
export interface Layer {
  readonly entries: readonly Entry[];
}

export function sortEntries<T extends { path: string }>(entries: Iterable<T>): T[] {
  return [...entries].sort((a, b) => comparePaths(a.path, b.path));
}

/** A layer from entries in any order, sorted so its tar is deterministic. */
export function layerOf(entries: Iterable<Entry>): Layer {
  return { entries: sortEntries(entries) };
}

export function isDirectory(e: Entry | undefined): boolean {
  return e?.type === 'directory';
}

/** Defaults for the fields a caller usually does not care about. */
export function makeEntry(path: string, type: EntryType, fields: Partial<Entry> = {}): Entry {
  const e: Entry = { path, type, mode: 0, uid: 0, gid: 0, mtime: 0, size: 0 };
  // Cast: fields is Partial<Entry>: each key is one of Entry's own, which TypeScript cannot see through Object.entries.
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) (e as unknown as Record<string, unknown>)[k] = v;
  e.mode = fields.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644);
  return e;
}

function sameXattrs(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b![k]);
}

/** Same metadata and content (the path is not compared, so entries can be matched across trees). */
export function sameEntry(a: Entry, b: Entry): boolean {
  return (
    a.type === b.type &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.mtime === b.mtime &&
    a.size === b.size &&
    a.digest === b.digest &&
    (a.linkname ?? '') === (b.linkname ?? '') &&
    (a.devmajor ?? 0) === (b.devmajor ?? 0) &&
    (a.devminor ?? 0) === (b.devminor ?? 0) &&
    !!a.opaque === !!b.opaque &&
    sameXattrs(a.xattrs, b.xattrs)
  );
}
