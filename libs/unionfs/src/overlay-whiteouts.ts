// Converts between the neutral whiteout model and overlayfs's on-disk form: a 0:0 character device
// for a deleted path, `trusted.overlay.opaque=y` on an opaque directory.
import type { Entry } from './entry';
import { OVERLAY_OPAQUE_XATTR, OVERLAY_WHITEOUT_DEVICE } from './whiteouts';

export function isOverlayWhiteout(e: Entry): boolean {
  return (
    e.type === 'char-device' && (e.devmajor ?? 0) === OVERLAY_WHITEOUT_DEVICE.major && (e.devminor ?? 0) === OVERLAY_WHITEOUT_DEVICE.minor
  );
}

export function toOverlayWhiteouts(entries: Iterable<Entry>): Entry[] {
  const out: Entry[] = [];
  for (const e of entries) {
    if (e.type === 'whiteout') {
      out.push({ ...e, type: 'char-device', mode: 0, uid: 0, gid: 0, size: 0, devmajor: 0, devminor: 0 });
    } else if (e.opaque) {
      const { opaque: _opaque, ...plain } = e;
      out.push({ ...plain, xattrs: { ...(e.xattrs ?? {}), [OVERLAY_OPAQUE_XATTR]: 'y' } });
    } else out.push(e);
  }
  return out;
}

export function fromOverlayWhiteouts(entries: Iterable<Entry>): Entry[] {
  const out: Entry[] = [];
  for (const e of entries) {
    if (isOverlayWhiteout(e)) {
      out.push({ path: e.path, type: 'whiteout', mode: 0, uid: 0, gid: 0, mtime: e.mtime, size: 0 });
    } else if (e.type === 'directory' && e.xattrs?.[OVERLAY_OPAQUE_XATTR] !== undefined) {
      const { [OVERLAY_OPAQUE_XATTR]: flag, ...rest } = e.xattrs;
      const next: Entry = { ...e, xattrs: rest };
      if (Object.keys(rest).length === 0) delete next.xattrs;
      if (flag === 'y') next.opaque = true;
      out.push(next);
    } else out.push(e);
  }
  return out;
}
