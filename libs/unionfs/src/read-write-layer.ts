// A container's writable layer over an image's merged view. Lower layers are never touched:
// changing a lower entry copies it up, deleting one leaves a whiteout. Copy-up moves metadata only,
// since content is referenced by digest. The state is plain JSON so it can live in Redis.
import type { ContentRef } from './content-store';
import { layerOf, makeEntry, sortEntries, type Entry, type EntryType, type Layer } from './entry';
import type { FsView } from './fs-view';
import { MemoryLayerIndex } from './layer-index';
import { MergedView } from './merged-view';
import { ancestorsOf, cleanPath, isWithin, parentOf } from './paths';
import { changesOf, type Change } from './change';
import { UnionFsError } from './union-fs-error';

export interface ReadWriteLayerState {
  entries: Entry[];
}

export interface EntryOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  xattrs?: Record<string, string>;
}

export interface ReadWriteLayerOptions {
  /** Seconds since the epoch for new mtimes and whiteouts; injectable for deterministic tests. */
  now?: () => number;
}

export class ReadWriteLayer implements FsView {
  private readonly upper: MemoryLayerIndex;
  private readonly view: MergedView;
  private readonly now: () => number;

  constructor(
    readonly lower: MergedView,
    state?: ReadWriteLayerState,
    options: ReadWriteLayerOptions = {},
  ) {
    this.upper = new MemoryLayerIndex(state?.entries ?? []);
    this.view = lower.withLayer(this.upper);
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  static fromJSON(lower: MergedView, state: ReadWriteLayerState, options?: ReadWriteLayerOptions): ReadWriteLayer {
    return new ReadWriteLayer(lower, state, options);
  }

  toJSON(): ReadWriteLayerState {
    return { entries: sortEntries(this.upper.entries()) };
  }

  /** The upper layer as a changeset, ready to be written as a layer tar. */
  toLayer(): Layer {
    return layerOf(this.upper.entries());
  }

  lookup(path: string): Entry | undefined {
    return this.view.lookup(this.clean(path, true));
  }

  list(dir: string): Entry[] {
    return this.view.list(this.clean(dir, true));
  }

  walk(dir = ''): Iterable<Entry> {
    return this.view.walk(this.clean(dir, true));
  }

  stat(path: string): Entry {
    const p = this.clean(path, true);
    const e = this.view.lookup(p);
    if (!e) throw new UnionFsError('ENOENT', p, 'no such file or directory');
    return e;
  }

  /** Replaces whatever non-directory is at `path` (symlinks are not followed). */
  writeFile(path: string, content: ContentRef, options: EntryOptions = {}): Entry {
    const p = this.clean(path);
    const existing = this.view.lookup(p);
    if (existing?.type === 'directory') throw new UnionFsError('EISDIR', p, 'is a directory');
    this.requireParent(p);
    const keep = existing?.type === 'file' ? existing : undefined;
    return this.put({
      path: p,
      type: 'file',
      mode: options.mode ?? keep?.mode ?? 0o644,
      uid: options.uid ?? keep?.uid ?? 0,
      gid: options.gid ?? keep?.gid ?? 0,
      mtime: options.mtime ?? this.now(),
      size: content.size,
      digest: content.digest,
      ...((options.xattrs ?? keep?.xattrs) ? { xattrs: options.xattrs ?? keep!.xattrs } : {}),
    });
  }

  mkdir(path: string, options: EntryOptions & { parents?: boolean } = {}): Entry {
    const p = this.clean(path);
    const existing = this.view.lookup(p);
    if (existing) {
      if (options.parents && existing.type === 'directory') return existing;
      throw new UnionFsError('EEXIST', p, 'file exists');
    }
    if (options.parents) {
      for (const a of ancestorsOf(p)) if (!this.view.lookup(a)) this.mkdir(a, { ...options, parents: false });
    }
    this.requireParent(p);
    return this.put(this.newEntry(p, 'directory', options));
  }

  symlink(target: string, path: string, options: EntryOptions = {}): Entry {
    return this.create(path, 'symlink', { ...options, mode: options.mode ?? 0o777 }, { linkname: target });
  }

  /** A hard link to an existing non-directory; in the layer it is a tar hardlink to `existing`. */
  link(existing: string, path: string): Entry {
    const target = this.stat(existing);
    if (target.type === 'directory') throw new UnionFsError('EISDIR', target.path, 'cannot hard-link a directory');
    const { path: _p, ...fields } = target;
    return this.create(path, 'hardlink', fields, { linkname: target.path, size: 0, digest: undefined });
  }

  mknod(
    path: string,
    type: 'fifo' | 'char-device' | 'block-device',
    options: EntryOptions & { devmajor?: number; devminor?: number } = {},
  ): Entry {
    const dev = type === 'fifo' ? {} : { devmajor: options.devmajor ?? 0, devminor: options.devminor ?? 0 };
    return this.create(path, type, options, dev);
  }

  chmod(path: string, mode: number): Entry {
    return this.update(path, { mode: mode & 0o7777 });
  }

  chown(path: string, uid: number, gid: number): Entry {
    return this.update(path, { uid, gid });
  }

  setXattrs(path: string, xattrs: Record<string, string>): Entry {
    return this.update(path, { xattrs: { ...xattrs } });
  }

  /** Delete `path`; a directory with contents only when `recursive`. */
  remove(path: string, options: { recursive?: boolean } = {}): void {
    const p = this.clean(path);
    const e = this.stat(p);
    if (e.type === 'directory' && !options.recursive && this.view.list(p).length > 0) {
      throw new UnionFsError('ENOTEMPTY', p, 'directory not empty');
    }
    this.upper.deleteTree(p);
    // An entry only the upper layer had is simply gone; one that lower layers still show needs a whiteout.
    if (this.view.lookup(p)) {
      this.copyUpParents(p);
      this.upper.set(makeEntry(p, 'whiteout', { mode: 0, mtime: this.now() }));
    }
  }

  /** Rename as delete + add (overlayfs answers EXDEV for lower directories, and Docker copies). */
  rename(from: string, to: string): void {
    const src = this.clean(from);
    const dst = this.clean(to);
    const entry = this.stat(src);
    if (src === dst) return;
    if (isWithin(dst, src)) throw new UnionFsError('EINVAL', dst, 'cannot move a directory into itself');
    const existing = this.view.lookup(dst);
    if (existing) {
      if (existing.type === 'directory' || entry.type === 'directory') throw new UnionFsError('EEXIST', dst, 'file exists');
      this.remove(dst);
    }
    this.requireParent(dst);
    const moved = [entry, ...(entry.type === 'directory' ? this.view.walk(src) : [])];
    this.remove(src, { recursive: true });
    for (const e of moved) {
      const path = dst + e.path.slice(src.length);
      this.put({ ...e, path });
    }
  }

  /**
   * What changed against the lower view, in moby's terms: a directory that was only copied up
   * because something inside changed shows as C of the parent of an A or D, not by itself. Where
   * moby's overlay driver reports a recreated (opaque) directory as D, this lists it as C and its
   * hidden lower children as D, which says the same thing without claiming the directory is gone.
   */
  changes(): Change[] {
    return changesOf(this.lower, this.upper.entries());
  }

  private clean(path: string, allowRoot = false): string {
    const p = cleanPath(path);
    if (p === undefined) throw new UnionFsError('EINVAL', path, 'path leaves the root');
    if (p === '' && !allowRoot) throw new UnionFsError('EINVAL', p, 'the root cannot be changed');
    return p;
  }

  private requireParent(p: string): void {
    const parent = this.view.lookup(parentOf(p));
    if (!parent) throw new UnionFsError('ENOENT', parentOf(p), 'no such directory');
    if (parent.type !== 'directory') throw new UnionFsError('ENOTDIR', parentOf(p), 'not a directory');
  }

  private newEntry(p: string, type: EntryType, o: EntryOptions): Entry {
    return makeEntry(p, type, {
      mode: o.mode,
      uid: o.uid ?? 0,
      gid: o.gid ?? 0,
      mtime: o.mtime ?? this.now(),
      ...(o.xattrs ? { xattrs: { ...o.xattrs } } : {}),
    });
  }

  private create(path: string, type: EntryType, options: EntryOptions, extra: Partial<Entry>): Entry {
    const p = this.clean(path);
    if (this.view.lookup(p)) throw new UnionFsError('EEXIST', p, 'file exists');
    this.requireParent(p);
    const e: Entry = { ...this.newEntry(p, type, options), ...extra };
    if (e.digest === undefined) delete e.digest;
    return this.put(e);
  }

  private update(path: string, fields: Partial<Entry>): Entry {
    const p = this.clean(path);
    return this.put({ ...this.stat(p), ...fields, path: p });
  }

  /** Overlay copies up the parent directories of anything it writes; so do we, metadata unchanged. */
  private copyUpParents(p: string): void {
    for (const a of ancestorsOf(p)) {
      if (!this.upper.get(a)) this.upper.set(this.view.lookup(a)!);
    }
  }

  private put(entry: Entry): Entry {
    const p = entry.path;
    const current = this.view.lookup(p);
    const prev = this.upper.get(p);
    const e: Entry = { ...entry };
    delete e.opaque;
    if (e.type === 'directory') {
      // A directory that replaces a deleted lower one must hide the old contents.
      const recreated = current?.type !== 'directory' && this.lower.lookup(p)?.type === 'directory';
      if ((prev?.type === 'directory' && prev.opaque) || recreated) e.opaque = true;
    } else {
      this.upper.deleteTree(p);
    }
    this.copyUpParents(p);
    this.upper.set(e);
    return this.view.lookup(p)!;
  }
}
