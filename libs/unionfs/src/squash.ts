// Collapse a stack of layers into one that gives the same merged view over any base.
import { makeEntry, sortEntries, type Layer } from './entry';
import { MemoryLayerIndex } from './layer-index';
import { ancestorsOf } from './paths';

export function squash(layers: readonly Layer[]): Layer {
  const acc = new MemoryLayerIndex();
  for (const layer of layers) {
    for (const e of sortEntries(layer.entries)) {
      // A path under something an earlier layer deleted or replaced: the stack shows the directory
      // as the extractor would create it, with nothing from below.
      for (const a of ancestorsOf(e.path)) {
        const prev = acc.get(a);
        if (prev && prev.type !== 'directory') {
          acc.delete(a);
          acc.set(makeEntry(a, 'directory', { opaque: true }));
        }
      }
      const prev = acc.get(e.path);
      if (e.type === 'directory') {
        if (e.opaque) {
          for (const child of [...acc.children(e.path)]) acc.deleteTree(child.path);
          acc.set(e);
        } else if (prev && prev.type !== 'directory') {
          // Deleted (or replaced by a file) below, recreated here: lower contents stay hidden.
          acc.delete(e.path);
          acc.set({ ...e, opaque: true });
        } else {
          acc.set(prev?.opaque ? { ...e, opaque: true } : e);
        }
      } else {
        acc.deleteTree(e.path);
        acc.set(e);
      }
    }
  }
  return { entries: sortEntries(acc.entries()) };
}
