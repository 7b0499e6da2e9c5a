import { layerOf, makeEntry } from './entry';
import { MemoryLayerIndex } from './layer-index';
import { MergedView } from './merged-view';
import { describeView, dir, node, sym, wh } from '../test/helpers';

const f = (path: string, fields = {}) => node(path, 'file', fields);

describe('MergedView', () => {
  const base = layerOf([
    dir('etc'),
    f('etc/passwd', { mode: 0o600 }),
    f('etc/hosts'),
    dir('var'),
    dir('var/lib'),
    f('var/lib/db'),
    f('bin'),
  ]);

  it('lets the top-most entry win', () => {
    const view = new MergedView([base, layerOf([f('etc/passwd', { mode: 0o644, mtime: 5 })])]);
    expect(view.lookup('etc/passwd')).toMatchObject({ mode: 0o644, mtime: 5 });
    expect(view.lookup('etc/hosts')).toBeDefined();
    expect(view.lookup('')).toMatchObject({ type: 'directory' });
    expect(view.depth).toBe(2);
  });

  it('names the layer a path comes from and the layers it shadows, or the layer that hides it', () => {
    const view = new MergedView([
      base,
      layerOf([f('etc/passwd', { mode: 0o644 }), wh('var')]),
      layerOf([f('etc/passwd', { mode: 0o640 })]),
    ]);
    expect(view.origin('etc/passwd')).toEqual({ layer: 2, shadows: [0, 1], hiddenBy: undefined });
    expect(view.origin('etc/hosts')).toEqual({ layer: 0, shadows: [], hiddenBy: undefined });
    expect(view.origin('var')).toEqual({ layer: undefined, shadows: [0], hiddenBy: 1 });
    expect(view.origin('var/lib/db')).toEqual({ layer: undefined, shadows: [0], hiddenBy: 1 });
    expect(view.origin('nothing')).toEqual({ layer: undefined, shadows: [], hiddenBy: undefined });
  });

  it('hides whited-out paths and everything under them', () => {
    const view = new MergedView([base, layerOf([wh('etc/hosts'), wh('var')])]);
    expect(view.lookup('etc/hosts')).toBeUndefined();
    expect(view.lookup('var')).toBeUndefined();
    expect(view.lookup('var/lib/db')).toBeUndefined();
    expect(view.list('var')).toEqual([]);
    expect(describeView(view)).toEqual(['bin file', 'etc directory', 'etc/passwd file']);
  });

  it('cuts lower contents at an opaque directory but keeps its own', () => {
    const view = new MergedView([base, layerOf([dir('var', { opaque: true, mode: 0o700 }), f('var/new')])]);
    expect(view.lookup('var')).toEqual(dir('var', { mode: 0o700 }));
    expect(view.lookup('var/lib')).toBeUndefined();
    expect(view.lookup('var/lib/db')).toBeUndefined();
    expect(view.list('var').map((e) => e.path)).toEqual(['var/new']);
  });

  it('treats a file replacing a directory as hiding its contents', () => {
    const view = new MergedView([base, layerOf([f('var')])]);
    expect(view.lookup('var')?.type).toBe('file');
    expect(view.lookup('var/lib')).toBeUndefined();
    expect(view.list('var')).toEqual([]);
  });

  it('shows a directory recreated above its whiteout without the old contents', () => {
    const view = new MergedView([base, layerOf([wh('var')]), layerOf([dir('var', { mode: 0o711 }), f('var/x')])]);
    expect(view.list('var').map((e) => e.path)).toEqual(['var/x']);
    expect(view.lookup('var')?.mode).toBe(0o711);
  });

  it('gives implicit directories the lower metadata, or defaults when nothing is below', () => {
    const view = new MergedView([layerOf([dir('a', { mode: 0o700 })]), layerOf([f('a/b/c')])]);
    expect(view.lookup('a')).toMatchObject({ mode: 0o700 });
    expect(view.lookup('a/b')).toEqual(makeEntry('a/b', 'directory'));
    expect(describeView(view)).toEqual(['a directory', 'a/b directory', 'a/b/c file']);
    const recreated = new MergedView([layerOf([f('a')]), layerOf([f('a/x')])]);
    expect(recreated.lookup('a')).toEqual(makeEntry('a', 'directory'));
    const overWhiteout = new MergedView([layerOf([dir('a'), f('a/old')]), layerOf([wh('a')]), layerOf([f('a/new')])]);
    expect(describeView(overWhiteout)).toEqual(['a directory', 'a/new file']);
  });

  it('lists merged children sorted, reports non-directories as empty, and walks', () => {
    const view = new MergedView([base, layerOf([f('etc/motd'), sym('etc/link', 'passwd')])]);
    expect(view.list('etc').map((e) => e.path)).toEqual(['etc/hosts', 'etc/link', 'etc/motd', 'etc/passwd']);
    expect(view.list('bin')).toEqual([]);
    expect(view.list('nope')).toEqual([]);
    expect([...view.walk('var')].map((e) => e.path)).toEqual(['var/lib', 'var/lib/db']);
  });

  it('accepts prebuilt indexes and shares them with a view that has one more layer', () => {
    const upper = new MemoryLayerIndex([f('etc/extra')]);
    const view = new MergedView([MemoryLayerIndex.of(base)]).withLayer(upper);
    expect(view.lookup('etc/extra')).toBeDefined();
    upper.delete('etc/extra');
    expect(view.lookup('etc/extra')).toBeUndefined();
    expect(upper.size).toBe(0);
  });
});
