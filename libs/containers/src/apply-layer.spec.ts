import { MemoryContentStore, MergedView, ReadWriteLayer, Tree, diff, layerOf, makeEntry, type Entry } from '@stevedore/unionfs';
import { applyLayer } from './apply-layer';

const store = new MemoryContentStore();
const file = async (path: string, text: string, fields: Partial<Entry> = {}): Promise<Entry> => {
  const ref = await store.put(text);
  return makeEntry(path, 'file', { size: ref.size, digest: ref.digest, ...fields });
};

async function image(): Promise<MergedView> {
  return new MergedView([
    layerOf([
      makeEntry('etc', 'directory'),
      await file('etc/motd', 'hi'),
      await file('etc/passwd', 'root'),
      makeEntry('www', 'directory'),
      await file('www/a.html', 'a'),
      await file('www/b.html', 'b'),
    ]),
  ]);
}

describe('applyLayer', () => {
  it('turns whiteouts into deletions and an opaque directory into a fresh one', async () => {
    const rw = new ReadWriteLayer(await image(), undefined, { now: () => 100 });
    applyLayer(
      rw,
      layerOf([makeEntry('etc/motd', 'whiteout'), { ...makeEntry('www', 'directory'), opaque: true }, await file('www/c.html', 'c')]),
    );
    expect(rw.lookup('etc/motd')).toBeUndefined();
    expect(rw.lookup('etc/passwd')).toBeDefined();
    expect(rw.list('www').map((e) => e.path)).toEqual(['www/c.html']);
    expect(rw.changes()).toEqual(
      expect.arrayContaining([
        { path: '/etc/motd', kind: 'D' },
        { path: '/www/a.html', kind: 'D' },
        { path: '/www/c.html', kind: 'A' },
      ]),
    );
    expect(rw.toLayer().entries.find((e) => e.path === 'www')?.opaque).toBe(true);
  });

  it('replaces a directory by a file and creates missing parents', async () => {
    const rw = new ReadWriteLayer(await image(), undefined, { now: () => 100 });
    applyLayer(rw, layerOf([await file('www', 'now a file'), await file('deep/er/x', 'x')]));
    expect(rw.lookup('www')?.type).toBe('file');
    expect(rw.lookup('www/a.html')).toBeUndefined();
    expect(rw.lookup('deep/er')?.type).toBe('directory');
  });

  it('a rootfs snapshot diffed against the image applies to the same tree', async () => {
    const lower = await image();
    const snapshot = new Tree([
      makeEntry('etc', 'directory'),
      await file('etc/passwd', 'root'),
      makeEntry('www', 'directory'),
      await file('www/a.html', 'changed'),
      await file('new', 'n'),
    ]);
    const rw = new ReadWriteLayer(lower, undefined, { now: () => 100 });
    applyLayer(rw, diff(lower, snapshot));
    expect([...rw.walk()].map((e) => e.path)).toEqual([...snapshot.walk()].map((e) => e.path));
    expect(rw.changes()).toEqual(
      expect.arrayContaining([
        { path: '/etc/motd', kind: 'D' },
        { path: '/www/a.html', kind: 'C' },
        { path: '/www/b.html', kind: 'D' },
        { path: '/new', kind: 'A' },
      ]),
    );
  });
});
