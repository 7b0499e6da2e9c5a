// The layer that turns one full tree into another: what `docker commit` computes when it has a whole
// rootfs instead of an upper directory (moby's ChangesDirs + ExportChanges, as one step).
import { makeEntry, sameEntry, type Entry, type Layer } from './entry';
import type { FsView } from './fs-view';
import { baseName } from './paths';

export function diff(lower: FsView, upper: FsView): Layer {
  const out: Entry[] = [];
  const addTree = (e: Entry) => {
    out.push(e);
    if (e.type === 'directory') for (const d of upper.walk(e.path)) out.push(d);
  };
  const visit = (dir: string) => {
    const lo = new Map(lower.list(dir).map((e) => [baseName(e.path), e]));
    const up = new Map(upper.list(dir).map((e) => [baseName(e.path), e]));
    for (const name of [...new Set([...lo.keys(), ...up.keys()])].sort()) {
      const l = lo.get(name);
      const u = up.get(name);
      if (!u) {
        // One whiteout hides the whole subtree.
        out.push(makeEntry(l!.path, 'whiteout', { mode: 0 }));
      } else if (!l) {
        addTree(u);
      } else if (u.type === 'directory' && l.type === 'directory') {
        if (!sameEntry(u, l)) out.push(u);
        visit(u.path);
      } else if (u.type === 'directory') {
        addTree(u);
      } else if (!sameEntry(u, l) || l.type === 'directory') {
        out.push(u);
      }
    }
  };
  visit('');
  return { entries: out };
}
