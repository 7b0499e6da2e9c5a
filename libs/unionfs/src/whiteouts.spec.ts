import { fromAufsWhiteouts, toAufsWhiteouts } from './aufs-whiteouts';
import { makeEntry } from './entry';
import { fromOverlayWhiteouts, isOverlayWhiteout, toOverlayWhiteouts } from './overlay-whiteouts';
import { UnsafeTarError } from './unsafe-tar-error';
import { OVERLAY_OPAQUE_XATTR } from './whiteouts';
import { dir, wh } from '../test/helpers';

describe('AUFS/OCI whiteouts', () => {
  it('writes .wh.<name> for a deletion and the opaque marker right after its directory', () => {
    const out = toAufsWhiteouts([wh('etc/old'), dir('var', { opaque: true }), makeEntry('var/-x', 'file')]);
    expect(out.map((e) => e.path)).toEqual(['etc/.wh.old', 'var', 'var/.wh..wh..opq', 'var/-x']);
    expect(out[0]).toMatchObject({ type: 'file', size: 0, mode: 0 });
    expect(out[1].opaque).toBeUndefined();
  });

  it('reads them back', () => {
    const back = fromAufsWhiteouts(toAufsWhiteouts([wh('etc/old'), wh('top'), dir('var', { opaque: true, mode: 0o700 })]));
    expect(back).toEqual([wh('etc/old'), wh('top'), dir('var', { opaque: true, mode: 0o700 })]);
  });

  it('drops other AUFS metadata and invents a directory for a lone opaque marker', () => {
    const back = fromAufsWhiteouts([
      makeEntry('.wh..wh.plnk', 'directory'),
      makeEntry('a/.wh..wh..opq', 'file'),
      makeEntry('.wh..wh..opq', 'file'),
    ]);
    expect(back).toEqual([dir('a', { opaque: true })]);
  });

  it('refuses nameless whiteouts, add+delete of one path, and opaque markers in files', () => {
    expect(() => fromAufsWhiteouts([makeEntry('a/.wh.', 'file')])).toThrow(UnsafeTarError);
    expect(() => fromAufsWhiteouts([makeEntry('a/.wh.x', 'file'), makeEntry('a/x', 'file')])).toThrow(/adds and deletes/);
    expect(() => fromAufsWhiteouts([makeEntry('a', 'file'), makeEntry('a/.wh..wh..opq', 'file')])).toThrow(/not a directory/);
  });
});

describe('overlay whiteouts', () => {
  it('converts a deletion to a 0:0 char device and back', () => {
    const [dev] = toOverlayWhiteouts([wh('a/b')]);
    expect(dev).toMatchObject({ path: 'a/b', type: 'char-device', devmajor: 0, devminor: 0 });
    expect(isOverlayWhiteout(dev)).toBe(true);
    expect(isOverlayWhiteout(makeEntry('dev/null', 'char-device', { devmajor: 1, devminor: 3 }))).toBe(false);
    expect(fromOverlayWhiteouts([dev])).toEqual([wh('a/b')]);
  });

  it('converts an opaque directory to the xattr and back, keeping other xattrs', () => {
    const [d] = toOverlayWhiteouts([dir('v', { opaque: true, xattrs: { 'user.k': 'v' } })]);
    expect(d.opaque).toBeUndefined();
    expect(d.xattrs).toEqual({ 'user.k': 'v', [OVERLAY_OPAQUE_XATTR]: 'y' });
    expect(fromOverlayWhiteouts([d])).toEqual([dir('v', { opaque: true, xattrs: { 'user.k': 'v' } })]);
    expect(fromOverlayWhiteouts(toOverlayWhiteouts([dir('w', { opaque: true })]))).toEqual([dir('w', { opaque: true })]);
    expect(fromOverlayWhiteouts([dir('n', { xattrs: { [OVERLAY_OPAQUE_XATTR]: 'n' } })])).toEqual([dir('n')]);
  });

  it('converts between the two forms through the neutral model', () => {
    const overlay = toOverlayWhiteouts([wh('x'), dir('d', { opaque: true }), makeEntry('f', 'file')]);
    const aufs = toAufsWhiteouts(fromOverlayWhiteouts(overlay));
    expect(aufs.map((e) => e.path)).toEqual(['d', 'd/.wh..wh..opq', 'f', '.wh.x']);
  });
});
