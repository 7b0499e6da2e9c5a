import fc from 'fast-check';
import { digestOf } from '@stevedore/oci';
import { apply } from './apply';
import { diff } from './diff';
import { layerOf, makeEntry, type Entry, type Layer } from './entry';
import type { FsView } from './fs-view';
import { MergedView } from './merged-view';
import { ancestorsOf, comparePaths, isWithin } from './paths';
import { squash } from './squash';
import { Tree } from './tree';
import { dir, node, wh } from '../test/helpers';

const snapshot = (view: FsView) => [...view.walk()];

const pathArb = fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 }).map((segs) => segs.join('/'));

const entryArb = (whiteouts: boolean): fc.Arbitrary<Entry> =>
  fc
    .record({
      path: pathArb,
      kind: fc.constantFrom(...(whiteouts ? ['file', 'dir', 'symlink', 'whiteout', 'opaque'] : ['file', 'dir', 'symlink'])),
      mode: fc.constantFrom(0o644, 0o755, 0o600),
      mtime: fc.integer({ min: 0, max: 3 }),
      text: fc.constantFrom('', 'x', 'yy'),
    })
    .map(({ path, kind, mode, mtime, text }) => {
      switch (kind) {
        case 'file':
          return makeEntry(path, 'file', { mode, mtime, size: text.length, digest: digestOf(text) });
        case 'symlink':
          return makeEntry(path, 'symlink', { mtime, linkname: text || '.' });
        case 'whiteout':
          return wh(path);
        case 'opaque':
          return dir(path, { mode, mtime, opaque: true });
        default:
          return dir(path, { mode, mtime });
      }
    });

/** A layer that could come out of a tar: one entry per path, nothing beneath a whiteout or a non-directory of the same layer. */
function consistent(entries: Entry[]): Entry[] {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const kept: Entry[] = [];
  const blocked = new Set<string>();
  for (const e of [...byPath.values()].sort((x, y) => comparePaths(x.path, y.path))) {
    if (ancestorsOf(e.path).some((a) => blocked.has(a))) continue;
    kept.push(e);
    if (e.type !== 'directory') blocked.add(e.path);
  }
  return kept;
}

const treeArb = fc.array(entryArb(false), { maxLength: 12 }).map((es) => new Tree(consistent(es)));
const layerArb = fc.array(entryArb(true), { maxLength: 8 }).map((es) => layerOf(consistent(es)));

describe('diff / apply / squash', () => {
  it('diff of a tree with itself is empty', () => {
    fc.assert(fc.property(treeArb, (a) => diff(a, a).entries.length === 0));
  });

  it('apply(diff(a, b), a) == b, and the diff stacked on a shows b', () => {
    fc.assert(
      fc.property(treeArb, treeArb, (a, b) => {
        const layer = diff(a, b);
        expect(snapshot(apply(layer, a))).toEqual(snapshot(b));
        expect(snapshot(new MergedView([layerOf(a.walk()), layer]))).toEqual(snapshot(b));
      }),
      { numRuns: 300 },
    );
  });

  it('applying layers one by one gives the merged view of the stack', () => {
    fc.assert(
      fc.property(fc.array(layerArb, { maxLength: 4 }), (layers) => {
        const applied = layers.reduce<FsView>((view, l) => apply(l, view), new Tree());
        expect(snapshot(applied)).toEqual(snapshot(new MergedView(layers)));
      }),
      { numRuns: 300 },
    );
  });

  it('origin names the layer whose entry the view shows, and only lower layers that have the path as shadowed', () => {
    fc.assert(
      fc.property(fc.array(layerArb, { minLength: 1, maxLength: 4 }), (layers) => {
        const view = new MergedView(layers);
        const paths = new Set(layers.flatMap((l) => l.entries.map((e) => e.path)));
        for (const p of paths) {
          const shown = view.lookup(p);
          const o = view.origin(p);
          const at = (i: number) => layers[i].entries.find((e) => e.path === p);
          if (o.layer !== undefined) {
            expect(shown).toBeDefined();
            expect(at(o.layer)?.type).toBe(shown!.type);
            if (shown!.type !== 'directory') expect(at(o.layer)).toMatchObject({ mode: shown!.mode, size: shown!.size });
            expect(o.hiddenBy).toBeUndefined();
          } else if (shown === undefined) {
            expect(o.hiddenBy).toBeDefined();
          }
          for (const j of o.shadows) {
            if (o.layer !== undefined) expect(j).toBeLessThan(o.layer);
            expect(at(j)?.type).not.toBe('whiteout');
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('squash gives the same merged view as the stack, over any base', () => {
    fc.assert(
      fc.property(treeArb, fc.array(layerArb, { maxLength: 4 }), (base, layers) => {
        const baseLayer: Layer = layerOf(base.walk());
        const squashed = squash(layers);
        expect(snapshot(new MergedView([baseLayer, squashed]))).toEqual(snapshot(new MergedView([baseLayer, ...layers])));
        expect(snapshot(new MergedView([squashed]))).toEqual(snapshot(new MergedView(layers)));
      }),
      { numRuns: 300 },
    );
  });

  it('diff emits one whiteout for a deleted directory and replaces across types', () => {
    const a = new Tree([dir('d'), node('d/x', 'file'), node('f', 'file'), node('g', 'file'), dir('h'), node('h/y', 'file')]);
    const b = new Tree([dir('f'), node('f/n', 'file'), node('g', 'file', { mode: 0o600 }), node('h', 'file')]);
    expect(diff(a, b).entries.map((e) => `${e.path}:${e.type}`)).toEqual(['d:whiteout', 'f:directory', 'f/n:file', 'g:file', 'h:file']);
  });

  it('squash keeps whiteouts and turns a recreated directory opaque', () => {
    const s = squash([layerOf([wh('a'), wh('b')]), layerOf([dir('a'), node('b/c', 'file')])]);
    expect(s.entries).toEqual([dir('a', { opaque: true }), dir('b', { opaque: true }), node('b/c', 'file')]);
  });

  it('a tree refuses whiteouts and opaque flags do not leak into it', () => {
    expect(() => new Tree([wh('x')])).toThrow(/no whiteouts/);
    expect(new Tree([dir('x', { opaque: true })]).lookup('x')).toEqual(dir('x'));
    expect(isWithin('x/y', 'x')).toBe(true);
  });
});
