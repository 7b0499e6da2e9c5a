// Apply a layer to a filesystem the way an extractor unpacks a layer tar over a rootfs. Written
// independently of MergedView so the two can check each other in tests.
import type { Layer } from './entry';
import type { FsView } from './fs-view';
import { ancestorsOf } from './paths';
import { makeEntry, sortEntries } from './entry';
import { Tree } from './tree';

export function apply(layer: Layer, view: FsView): Tree {
  const tree = view instanceof Tree ? new Tree(view.walk()) : Tree.from(view);
  for (const e of sortEntries(layer.entries)) {
    // A missing parent is created by the extractor, even for a whiteout (as moby's UnpackLayer does);
    // something else in the way is replaced.
    for (const a of ancestorsOf(e.path)) {
      const existing = tree.lookup(a);
      if (existing?.type === 'directory') continue;
      if (existing) tree.remove(a);
      tree.set(makeEntry(a, 'directory'));
    }
    if (e.type === 'whiteout') {
      tree.remove(e.path);
      continue;
    }
    const existing = tree.lookup(e.path);
    if (e.type === 'directory' && existing?.type === 'directory') {
      if (e.opaque) tree.clear(e.path);
    } else {
      tree.remove(e.path);
    }
    tree.set(e);
  }
  return tree;
}
