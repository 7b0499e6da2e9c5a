// The union of a stack of layers as one read-only filesystem, the way overlayfs presents an image:
// the top-most entry wins, a whiteout hides a path and everything under it, an opaque directory
// hides what lower layers had inside it. Layers are indexed only when a lookup reaches them.
import { makeEntry, type Entry, type Layer } from './entry';
import type { FsView } from './fs-view';
import { MemoryLayerIndex, type LayerIndex } from './layer-index';
import { ancestorsOf, baseName, joinPath } from './paths';

const ROOT: Entry = makeEntry('', 'directory');

/** Entries as a view shows them: the opaque flag belongs to the layer, not to the filesystem. */
function visible(e: Entry): Entry {
  if (!e.opaque) return e;
  const { opaque: _opaque, ...rest } = e;
  return rest;
}

/** Where a path of a merged view comes from (MergedView.origin). */
export interface PathOrigin {
  layer: number | undefined;
  shadows: number[];
  hiddenBy: number | undefined;
}

export class MergedView implements FsView {
  private readonly indexes: Array<LayerIndex | undefined>;

  /** `layers` bottom first, as in an image manifest. */
  constructor(private readonly sources: ReadonlyArray<Layer | LayerIndex>) {
    this.indexes = sources.map((s) => ('get' in s ? s : undefined));
  }

  get depth(): number {
    return this.sources.length;
  }

  /** A view with one more layer on top; indexes already built are shared. */
  withLayer(upper: Layer | LayerIndex): MergedView {
    const next = new MergedView([...this.sources, upper]);
    this.indexes.forEach((ix, i) => (next.indexes[i] = ix));
    return next;
  }

  private layer(i: number): LayerIndex {
    return (this.indexes[i] ??= MemoryLayerIndex.of(this.sources[i] as Layer));
  }

  /** Whether layer `i` hides lower layers' view of `path` through one of its ancestors. */
  private ancestorCuts(ix: LayerIndex, path: string): { hidden: boolean; opaque: boolean } {
    let opaque = false;
    for (const a of ancestorsOf(path)) {
      const e = ix.get(a);
      if (!e) continue;
      if (e.type !== 'directory') return { hidden: true, opaque };
      if (e.opaque) opaque = true;
    }
    return { hidden: false, opaque };
  }

  lookup(path: string): Entry | undefined {
    if (path === '') return ROOT;
    // A directory that a layer only implies (it has children there but no entry) exists, but
    // takes its metadata from below when a lower layer has a real directory there.
    let implicit: Entry | undefined;
    for (let i = this.sources.length - 1; i >= 0; i--) {
      const ix = this.layer(i);
      const e = ix.get(path);
      if (e) {
        if (e.type === 'whiteout') return implicit;
        if (implicit && e.type !== 'directory') return implicit;
        return visible(e);
      }
      if (!implicit && ix.hasChildren(path)) implicit = makeEntry(path, 'directory');
      const cut = this.ancestorCuts(ix, path);
      if (cut.hidden || cut.opaque) return implicit;
    }
    return implicit;
  }

  /**
   * Where `path` comes from: the layer whose entry the view shows (undefined when the path is not
   * there, or is a directory only implied by children), the lower layers that also have it and are
   * shadowed, and the layer that hides it when one does (a whiteout, or an opaque or non-directory
   * ancestor). Layer numbers are indexes into the stack, bottom first.
   */
  origin(path: string): PathOrigin {
    const shadows: number[] = [];
    let layer: number | undefined;
    let hiddenBy: number | undefined;
    let decided = false;
    for (let i = this.sources.length - 1; i >= 0; i--) {
      const ix = this.layer(i);
      const e = path === '' ? undefined : ix.get(path);
      if (decided) {
        if (e && e.type !== 'whiteout') shadows.push(i);
        continue;
      }
      if (e) {
        decided = true;
        if (e.type === 'whiteout') hiddenBy = i;
        else layer = i;
        continue;
      }
      const cut = this.ancestorCuts(ix, path);
      if (cut.hidden || cut.opaque) {
        decided = true;
        // An opaque ancestor keeps its layer's own children: only lower layers are cut.
        hiddenBy = i;
      }
    }
    // What the view shows decides: a directory an upper layer only implies (by children) shadows a
    // lower layer's entry of another type and has no layer of its own.
    if (layer !== undefined && this.lookup(path)?.type !== this.layer(layer).get(path)?.type) {
      shadows.unshift(layer);
      layer = undefined;
    }
    return { layer, shadows: shadows.sort((a, b) => a - b), hiddenBy };
  }

  list(dir: string): Entry[] {
    if (this.lookup(dir)?.type !== 'directory') return [];
    const seen = new Map<string, boolean>();
    for (let i = this.sources.length - 1; i >= 0; i--) {
      const ix = this.layer(i);
      const e = dir === '' ? undefined : ix.get(dir);
      if (e && e.type !== 'directory') break;
      const cut = this.ancestorCuts(ix, dir);
      if (cut.hidden) break;
      for (const child of ix.children(dir)) {
        const name = baseName(child.path);
        if (!seen.has(name)) seen.set(name, child.type !== 'whiteout');
      }
      if (e?.opaque || cut.opaque) break;
    }
    const out: Entry[] = [];
    for (const name of [...seen.keys()].sort()) {
      if (!seen.get(name)) continue;
      const child = this.lookup(joinPath(dir, name));
      if (child) out.push(child);
    }
    return out;
  }

  *walk(dir = ''): Iterable<Entry> {
    for (const e of this.list(dir)) {
      yield e;
      if (e.type === 'directory') yield* this.walk(e.path);
    }
  }
}
