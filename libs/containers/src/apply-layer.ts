// Replays a layer (an uploaded upper dir, or the diff of a rootfs snapshot) onto a read-write layer
// through its own operations, so copy-up, whiteouts and opaque directories follow the same rules
// as single file operations.
import { ancestorsOf, sortEntries, type ContentRef, type Entry, type Layer, type ReadWriteLayer } from '@stevedore/unionfs';

function ensureParents(rw: ReadWriteLayer, path: string): void {
  for (const a of ancestorsOf(path)) {
    const e = rw.lookup(a);
    if (e?.type === 'directory') continue;
    if (e) rw.remove(a, { recursive: true });
    rw.mkdir(a);
  }
}

function clearNonDirectory(rw: ReadWriteLayer, path: string): void {
  const e = rw.lookup(path);
  if (e) rw.remove(path, { recursive: true });
}

export function applyLayer(rw: ReadWriteLayer, layer: Layer): number {
  let n = 0;
  for (const e of sortEntries(layer.entries) as Entry[]) {
    n++;
    const opts = { mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
    if (e.type === 'whiteout') {
      if (rw.lookup(e.path)) rw.remove(e.path, { recursive: true });
      continue;
    }
    ensureParents(rw, e.path);
    const existing = rw.lookup(e.path);
    if (e.type === 'directory') {
      if (existing?.type === 'directory') {
        // Removing and recreating a directory that lower layers have makes it opaque.
        if (e.opaque) {
          rw.remove(e.path, { recursive: true });
          rw.mkdir(e.path, opts);
        } else {
          rw.chmod(e.path, e.mode);
          rw.chown(e.path, e.uid, e.gid);
        }
      } else {
        clearNonDirectory(rw, e.path);
        rw.mkdir(e.path, opts);
      }
      if (e.xattrs) rw.setXattrs(e.path, e.xattrs);
      continue;
    }
    if (existing) rw.remove(e.path, { recursive: true });
    switch (e.type) {
      case 'file':
        rw.writeFile(e.path, { digest: e.digest!, size: e.size } as ContentRef, opts);
        break;
      case 'symlink':
        rw.symlink(e.linkname ?? '', e.path, opts);
        break;
      case 'hardlink':
        rw.link(e.linkname ?? '', e.path);
        break;
      default:
        rw.mknod(e.path, e.type, { ...opts, devmajor: e.devmajor, devminor: e.devminor });
    }
    if (e.xattrs) rw.setXattrs(e.path, e.xattrs);
  }
  return n;
}
