// Converts between the neutral whiteout model (type 'whiteout', `opaque` directories) and the
// AUFS/OCI tar form (`.wh.<name>` files, `<dir>/.wh..wh..opq`).
import { makeEntry, sortEntries, type Entry } from './entry';
import { baseName, joinPath, parentOf } from './paths';
import { UnsafeTarError } from './unsafe-tar-error';
import { WHITEOUT_META_PREFIX, WHITEOUT_OPAQUE_DIR, WHITEOUT_PREFIX } from './whiteouts';

/** Neutral -> tar form. The opaque marker directly follows its directory so extractors see the dir first. */
export function toAufsWhiteouts(entries: Iterable<Entry>): Entry[] {
  const out: Entry[] = [];
  for (const e of sortEntries(entries)) {
    if (e.type === 'whiteout') {
      out.push(makeEntry(joinPath(parentOf(e.path), WHITEOUT_PREFIX + baseName(e.path)), 'file', { mode: 0, mtime: e.mtime }));
      continue;
    }
    const { opaque, ...plain } = e;
    out.push(plain);
    if (opaque && e.type === 'directory') {
      out.push(makeEntry(joinPath(e.path, WHITEOUT_OPAQUE_DIR), 'file', { mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime }));
    }
  }
  return out;
}

/**
 * Tar form -> neutral. Other AUFS metadata (`.wh..wh.plnk`, `.wh..wh.aufs`) is dropped, as moby does.
 * An opaque marker without its directory entry gets a default directory so the marker is not lost.
 */
export function fromAufsWhiteouts(entries: Iterable<Entry>): Entry[] {
  const byPath = new Map<string, Entry>();
  const opaqueDirs: Entry[] = [];
  const whiteouts: Entry[] = [];
  for (const e of entries) {
    const name = baseName(e.path);
    if (name === WHITEOUT_OPAQUE_DIR) {
      opaqueDirs.push(e);
    } else if (name.startsWith(WHITEOUT_META_PREFIX)) {
      continue;
    } else if (name.startsWith(WHITEOUT_PREFIX)) {
      const target = name.slice(WHITEOUT_PREFIX.length);
      if (target === '' || target === '.' || target === '..') {
        throw new UnsafeTarError('invalid-whiteout', e.path, 'a whiteout must name a file');
      }
      whiteouts.push(makeEntry(joinPath(parentOf(e.path), target), 'whiteout', { mode: 0, mtime: e.mtime }));
    } else {
      byPath.set(e.path, e);
    }
  }
  for (const w of whiteouts) {
    if (byPath.has(w.path)) {
      throw new UnsafeTarError('duplicate-entry', w.path, 'the layer both adds and deletes this path');
    }
    byPath.set(w.path, w);
  }
  for (const marker of opaqueDirs) {
    const dir = parentOf(marker.path);
    if (dir === '') continue; // an opaque root hides nothing the layer could not also whiteout; ignored like umoci
    const existing = byPath.get(dir);
    if (existing && existing.type !== 'directory') {
      throw new UnsafeTarError('invalid-whiteout', marker.path, 'opaque marker inside something that is not a directory');
    }
    byPath.set(dir, { ...(existing ?? makeEntry(dir, 'directory', { mtime: marker.mtime })), opaque: true });
  }
  return sortEntries(byPath.values());
}
