// A whole filesystem held as flat entries (no whiteouts): a container's rootfs, or a view flattened.
import { makeEntry, type Entry } from './entry';
import type { FsView } from './fs-view';
import { MemoryLayerIndex } from './layer-index';

export class Tree implements FsView {
  private readonly index = new MemoryLayerIndex();

  constructor(entries: Iterable<Entry> = []) {
    for (const e of entries) this.set(e);
  }

  static from(view: FsView): Tree {
    return new Tree(view.walk());
  }

  lookup(path: string): Entry | undefined {
    if (path === '') return makeEntry('', 'directory');
    return this.index.get(path) ?? (this.index.hasChildren(path) ? makeEntry(path, 'directory') : undefined);
  }

  list(dir: string): Entry[] {
    if (this.lookup(dir)?.type !== 'directory') return [];
    return [...this.index.children(dir)].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  *walk(dir = ''): Iterable<Entry> {
    for (const e of this.list(dir)) {
      yield e;
      if (e.type === 'directory') yield* this.walk(e.path);
    }
  }

  set(entry: Entry): void {
    if (entry.type === 'whiteout') throw new Error(`a tree holds no whiteouts ("${entry.path}")`);
    const { opaque: _opaque, ...plain } = entry;
    this.index.set(plain);
  }

  /** Remove `path` and everything beneath it. */
  remove(path: string): void {
    this.index.deleteTree(path);
  }

  /** Remove what is beneath `dir`, keeping `dir`. */
  clear(dir: string): void {
    for (const child of [...this.index.children(dir)]) this.index.deleteTree(child.path);
  }
}
