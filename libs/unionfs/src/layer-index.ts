// Path lookup over one layer's entries. A tar may hold 'a/b/c' without 'a/' or 'a/b/'; such
// directories are implicit: they have children here but no entry of their own.
import { makeEntry, type Entry, type Layer } from './entry';
import { parentOf } from './paths';

/**
 * What a merged view needs of a layer. The in-memory index below serves tests and the read-write
 * layer; a service may implement it over its own store.
 */
export interface LayerIndex {
  /** The layer's own entry at `path`, whiteouts included; undefined for implicit directories. */
  get(path: string): Entry | undefined;
  /** Direct children of `dir` in this layer; implicit directories come back as default directory entries. */
  children(dir: string): Iterable<Entry>;
  hasChildren(dir: string): boolean;
  /** Every explicit entry, in no particular order. */
  entries(): Iterable<Entry>;
}

export class MemoryLayerIndex implements LayerIndex {
  private readonly byPath = new Map<string, Entry>();
  private readonly kids = new Map<string, Set<string>>();

  constructor(entries: Iterable<Entry> = []) {
    for (const e of entries) this.set(e);
  }

  static of(layer: Layer): MemoryLayerIndex {
    return new MemoryLayerIndex(layer.entries);
  }

  get size(): number {
    return this.byPath.size;
  }

  get(path: string): Entry | undefined {
    return this.byPath.get(path);
  }

  *children(dir: string): Iterable<Entry> {
    for (const p of this.kids.get(dir) ?? []) yield this.byPath.get(p) ?? makeEntry(p, 'directory');
  }

  hasChildren(dir: string): boolean {
    return (this.kids.get(dir)?.size ?? 0) > 0;
  }

  entries(): Iterable<Entry> {
    return this.byPath.values();
  }

  set(entry: Entry): void {
    this.byPath.set(entry.path, entry);
    let p = entry.path;
    while (p !== '') {
      const parent = parentOf(p);
      let set = this.kids.get(parent);
      if (!set) this.kids.set(parent, (set = new Set()));
      if (set.has(p)) break;
      set.add(p);
      p = parent;
    }
  }

  delete(path: string): void {
    this.byPath.delete(path);
    let p = path;
    // Implicit parents vanish with their last child.
    while (p !== '' && !this.byPath.has(p) && !this.hasChildren(p)) {
      const parent = parentOf(p);
      this.kids.get(parent)?.delete(p);
      if (this.kids.get(parent)?.size === 0) this.kids.delete(parent);
      p = parent;
    }
  }

  /** Delete `path` and everything beneath it. */
  deleteTree(path: string): void {
    for (const child of [...this.children(path)]) this.deleteTree(child.path);
    this.delete(path);
  }
}
