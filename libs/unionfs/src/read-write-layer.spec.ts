import { digestOf } from '@stevedore/oci';
import { layerOf } from './entry';
import { MergedView } from './merged-view';
import { ReadWriteLayer } from './read-write-layer';
import { UnionFsError } from './union-fs-error';
import { describeView, dir, node, wh } from '../test/helpers';

const f = (path: string, fields = {}) => node(path, 'file', fields);
const content = (text: string) => ({ digest: digestOf(text), size: text.length });

function setup() {
  const image = new MergedView([
    layerOf([
      dir('etc', { mtime: 1 }),
      f('etc/passwd', { mode: 0o600, uid: 0 }),
      f('etc/hosts'),
      dir('var', { mtime: 1 }),
      dir('var/lib', { mtime: 1 }),
      f('var/lib/db'),
      f('usr'),
    ]),
  ]);
  return new ReadWriteLayer(image, undefined, { now: () => 100 });
}

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UnionFsError);
    return (e as UnionFsError).code;
  }
  return undefined;
};

describe('ReadWriteLayer', () => {
  it('starts empty and sees the image', () => {
    const rw = setup();
    expect(rw.toLayer().entries).toEqual([]);
    expect(rw.changes()).toEqual([]);
    expect(rw.stat('/etc/passwd').mode).toBe(0o600);
    expect(rw.list('/etc').length).toBe(2);
    expect([...rw.walk()].length).toBe(7);
  });

  it('copies up a modified lower file with its parents and keeps the lower layer untouched', () => {
    const rw = setup();
    rw.writeFile('/etc/passwd', content('root:x:0:0'));
    expect(rw.stat('etc/passwd')).toMatchObject({ mode: 0o600, size: 10, mtime: 100 });
    expect(rw.lower.lookup('etc/passwd')?.size).toBe(0);
    expect(rw.toLayer().entries.map((e) => e.path)).toEqual(['etc', 'etc/passwd']);
    expect(rw.changes()).toEqual([{ path: '/etc/passwd', kind: 'C' }]);
  });

  it('copies up on chmod and chown without touching content', () => {
    const rw = setup();
    rw.chmod('/etc/hosts', 0o4755);
    rw.chown('/etc/hosts', 1000, 1000);
    rw.setXattrs('/etc/hosts', { 'user.a': 'b' });
    expect(rw.stat('/etc/hosts')).toMatchObject({ mode: 0o4755, uid: 1000, gid: 1000, xattrs: { 'user.a': 'b' } });
    rw.chmod('/var', 0o700);
    expect(rw.changes()).toEqual([
      { path: '/etc/hosts', kind: 'C' },
      { path: '/var', kind: 'C' },
    ]);
  });

  it('whites out a deleted lower file and reports D with its parent C', () => {
    const rw = setup();
    rw.remove('/etc/hosts');
    expect(rw.lookup('/etc/hosts')).toBeUndefined();
    expect(rw.toLayer().entries).toEqual([dir('etc', { mtime: 1 }), { ...wh('etc/hosts'), mtime: 100 }]);
    expect(rw.changes()).toEqual([
      { path: '/etc', kind: 'C' },
      { path: '/etc/hosts', kind: 'D' },
    ]);
  });

  it('removes an upper-only entry without a whiteout', () => {
    const rw = setup();
    rw.writeFile('/etc/new', content('x'));
    rw.remove('/etc/new');
    expect(rw.toLayer().entries.filter((e) => e.type === 'whiteout')).toEqual([]);
    expect(rw.lookup('/etc/new')).toBeUndefined();
  });

  it('refuses to remove a non-empty directory unless recursive, then whites out the directory alone', () => {
    const rw = setup();
    expect(codeOf(() => rw.remove('/var'))).toBe('ENOTEMPTY');
    rw.remove('/var', { recursive: true });
    expect(rw.toLayer().entries).toEqual([{ ...wh('var'), mtime: 100 }]);
    expect(rw.changes()).toEqual([{ path: '/var', kind: 'D' }]);
  });

  it('makes a directory opaque when a lower one is removed and recreated', () => {
    const rw = setup();
    rw.remove('/var', { recursive: true });
    rw.mkdir('/var', { mode: 0o700 });
    rw.writeFile('/var/fresh', content('y'));
    expect(rw.list('/var').map((e) => e.path)).toEqual(['var/fresh']);
    expect(rw.toLayer().entries[0]).toMatchObject({ path: 'var', opaque: true, mode: 0o700 });
    expect(rw.changes()).toEqual([
      { path: '/var', kind: 'C' },
      { path: '/var/fresh', kind: 'A' },
      { path: '/var/lib', kind: 'D' },
    ]);
    // Removing something only the opaque directory had needs no whiteout.
    rw.remove('/var/fresh');
    expect(rw.toLayer().entries).toEqual([expect.objectContaining({ path: 'var', opaque: true })]);
    rw.chmod('/var', 0o755);
    expect(rw.toLayer().entries[0].opaque).toBe(true);
  });

  it('adds directories, symlinks, hard links and device nodes, reporting A under a C parent', () => {
    const rw = setup();
    rw.mkdir('/opt/app/bin', { parents: true });
    expect(rw.mkdir('/opt', { parents: true }).path).toBe('opt');
    rw.symlink('/etc/passwd', '/etc/pw');
    rw.link('/etc/hosts', '/etc/hosts2');
    rw.mknod('/etc/fifo', 'fifo');
    rw.mknod('/etc/null', 'char-device', { devmajor: 1, devminor: 3 });
    expect(rw.stat('/opt/app').mode).toBe(0o755);
    expect(rw.stat('/etc/fifo').mode).toBe(0o644);
    expect(rw.stat('/etc/pw')).toMatchObject({ type: 'symlink', linkname: '/etc/passwd', mode: 0o777 });
    expect(rw.stat('/etc/hosts2')).toMatchObject({ type: 'hardlink', linkname: 'etc/hosts', size: 0 });
    expect(rw.stat('/etc/null')).toMatchObject({ devmajor: 1, devminor: 3 });
    expect(rw.changes()).toEqual([
      { path: '/etc', kind: 'C' },
      { path: '/etc/fifo', kind: 'A' },
      { path: '/etc/hosts2', kind: 'A' },
      { path: '/etc/null', kind: 'A' },
      { path: '/etc/pw', kind: 'A' },
      { path: '/opt', kind: 'A' },
      { path: '/opt/app', kind: 'A' },
      { path: '/opt/app/bin', kind: 'A' },
    ]);
  });

  it('renames as delete + add, including a whole lower directory', () => {
    const rw = setup();
    rw.rename('/var/lib', '/srv');
    expect(describeView(rw)).toContain('srv/db file');
    expect(rw.lookup('/var/lib')).toBeUndefined();
    expect(rw.toLayer().entries.map((e) => `${e.path}:${e.type}`)).toEqual([
      'srv:directory',
      'srv/db:file',
      'var:directory',
      'var/lib:whiteout',
    ]);
    rw.rename('/etc/hosts', '/etc/passwd');
    expect(rw.lookup('/etc/hosts')).toBeUndefined();
    rw.rename('/srv', '/srv');
    expect(codeOf(() => rw.rename('/srv', '/srv/x'))).toBe('EINVAL');
    expect(codeOf(() => rw.rename('/srv', '/etc'))).toBe('EEXIST');
  });

  it('answers errors with POSIX codes', () => {
    const rw = setup();
    expect(codeOf(() => rw.stat('/nope'))).toBe('ENOENT');
    expect(codeOf(() => rw.writeFile('/etc', content('')))).toBe('EISDIR');
    expect(codeOf(() => rw.writeFile('/no/file', content('')))).toBe('ENOENT');
    expect(codeOf(() => rw.writeFile('/usr/file', content('')))).toBe('ENOTDIR');
    expect(codeOf(() => rw.mkdir('/etc'))).toBe('EEXIST');
    expect(codeOf(() => rw.symlink('x', '/etc/hosts'))).toBe('EEXIST');
    expect(codeOf(() => rw.link('/etc', '/e2'))).toBe('EISDIR');
    expect(codeOf(() => rw.remove('/'))).toBe('EINVAL');
    expect(codeOf(() => rw.stat('/../x'))).toBe('EINVAL');
  });

  it('round-trips its state through JSON', () => {
    const rw = setup();
    rw.writeFile('/etc/a', content('a'), { mode: 0o640, uid: 1, gid: 2, mtime: 7, xattrs: { 'user.x': '1' } });
    rw.remove('/etc/hosts');
    const json = JSON.parse(JSON.stringify(rw.toJSON()));
    const again = ReadWriteLayer.fromJSON(rw.lower, json);
    expect(describeView(again)).toEqual(describeView(rw));
    expect(again.changes()).toEqual(rw.changes());
    expect(again.stat('/etc/a')).toMatchObject({ mode: 0o640, uid: 1, gid: 2, mtime: 7, xattrs: { 'user.x': '1' } });
  });
});
