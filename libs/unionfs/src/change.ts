// Docker's change list (`docker diff`, moby's changes.go): A added, C changed, D deleted.
import { makeEntry, sameEntry, sortEntries, type Entry } from './entry';
import type { FsView } from './fs-view';
import { comparePaths, parentOf } from './paths';

export type ChangeKind = 'A' | 'C' | 'D';

export interface Change {
  /** Absolute, as Docker prints it ('/etc/passwd'). */
  path: string;
  kind: ChangeKind;
}

/**
 * An upper layer's entries over `lower` as Docker's change list: whiteouts are D, new paths A,
 * changed ones C, and the parent of an added or deleted path C (as moby's changes.go reports a
 * directory whose listing changed); an opaque directory reports the lower children it hides as D.
 * A directory entry equal to the one below (a layer repeating its parents) is no change.
 */
export function changesOf(lower: FsView, upperEntries: Iterable<Entry>): Change[] {
  const upper = [...upperEntries];
  const own = new Set(upper.map((e) => e.path));
  for (const e of [...upper]) {
    if (!e.opaque) continue;
    for (const child of lower.list(e.path)) if (!own.has(child.path)) upper.push(makeEntry(child.path, 'whiteout'));
  }
  const out: Change[] = [];
  const changedDirs = new Set<string>();
  for (const e of sortEntries(upper)) {
    let kind: ChangeKind;
    if (e.type === 'whiteout') kind = 'D';
    else {
      const before = lower.lookup(e.path);
      if (!before) kind = 'A';
      else if (before.type === 'directory' && e.type === 'directory' && sameEntry(before, { ...e, opaque: undefined })) continue;
      else kind = 'C';
    }
    if (e.type === 'directory') changedDirs.add(e.path);
    const parent = parentOf(e.path);
    if (kind !== 'C' && parent !== '' && !changedDirs.has(parent)) {
      out.push({ path: `/${parent}`, kind: 'C' });
      changedDirs.add(parent);
    }
    out.push({ path: `/${e.path}`, kind });
  }
  return out.sort((a, b) => comparePaths(a.path, b.path));
}
