import fc from 'fast-check';
import type { Digest } from '@stevedore/oci';
import type { ManifestRecord } from '@stevedore/metadata';
import { mark, markRepository } from './mark';

const d = (s: string) => `sha256:${s.padStart(64, '0')}` as Digest;
const m = (id: string, opts: Partial<Omit<ManifestRecord, 'tags'>> & { tags?: string[] } = {}): ManifestRecord => ({
  digest: d(id),
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: 100,
  references: opts.references ?? [],
  subject: opts.subject,
  touched: opts.touched ?? 0,
  tags: (opts.tags ?? []).map((tag) => ({ tag, taggedAt: 0 })),
});

describe('mark', () => {
  it('keeps tagged manifests with their config and layers; old untagged ones are candidates', () => {
    const r = markRepository(
      { name: 'a', manifests: [m('1', { tags: ['latest'], references: [d('c1'), d('l1')] }), m('2', { references: [d('c2'), d('l2')] })] },
      { untaggedCutoff: 10 },
    );
    expect([...r.live]).toEqual([d('1')]);
    expect(r.candidates).toEqual([d('2')]);
    expect(r.reachable).toEqual(new Set([d('1'), d('c1'), d('l1')]));
  });

  it('keeps untagged manifests touched since the cutoff, and never-stamped ones', () => {
    const r = markRepository(
      { name: 'a', manifests: [m('1', { touched: 50 }), { ...m('2'), touched: undefined }, m('3', { touched: 5 })] },
      { untaggedCutoff: 10 },
    );
    expect(r.candidates).toEqual([d('3')]);
  });

  it('keeps the children of a tagged index and referrers of a live subject, transitively', () => {
    const manifests = [
      m('i', { tags: ['v1'], references: [d('x'), d('y')] }),
      m('x', { references: [d('lx')] }),
      m('y', { references: [d('ly')] }),
      m('sig', { subject: d('x'), references: [d('sigcfg')] }),
      m('sigsig', { subject: d('sig') }),
      m('orphan-ref', { subject: d('gone') }),
    ];
    const r = markRepository({ name: 'a', manifests }, { untaggedCutoff: 10 });
    expect(new Set(r.candidates)).toEqual(new Set([d('orphan-ref')]));
    expect(r.reachable.has(d('sigcfg'))).toBe(true);
    expect(r.reachable.has(d('lx'))).toBe(true);
  });

  it('treats tags dropped by retention as gone', () => {
    const r = markRepository(
      { name: 'a', manifests: [m('1', { tags: ['old'] }), m('2', { tags: ['new'] })] },
      { untaggedCutoff: 10, droppedTags: new Map([['a', new Set(['old'])]]) },
    );
    expect(r.candidates).toEqual([d('1')]);
  });

  it('without a cutoff keeps everything', () => {
    expect(markRepository({ name: 'a', manifests: [m('1'), m('2')] }).candidates).toEqual([]);
  });

  it('unions what repositories reach; a digest reached in one repository is not reached in another', () => {
    const r = mark(
      [
        { name: 'a', manifests: [m('1', { tags: ['t'], references: [d('shared')] })] },
        { name: 'b', manifests: [m('2', { references: [d('shared'), d('only-b')] })] },
      ],
      { untaggedCutoff: 10 },
    );
    expect(r.reachable.has(d('shared'))).toBe(true);
    expect(r.reachable.has(d('only-b'))).toBe(false);
    expect(r.reachableIn.get('b')!.size).toBe(0);
  });

  // Properties over random repositories: indexes, referrers, tags and ages.
  const repoArb = fc
    .array(
      fc.record({
        tagged: fc.boolean(),
        touched: fc.integer({ min: 0, max: 20 }),
        children: fc.array(fc.nat(14), { maxLength: 3 }),
        layers: fc.array(fc.nat(30), { maxLength: 3 }),
        subject: fc.option(fc.nat(14), { nil: undefined }),
      }),
      { minLength: 1, maxLength: 15 },
    )
    .map((rows) =>
      rows.map((r, i) =>
        m(`m${i}`, {
          tags: r.tagged ? [`t${i}`] : [],
          touched: r.touched,
          references: [...r.children.filter((c) => c < rows.length && c !== i).map((c) => d(`m${c}`)), ...r.layers.map((l) => d(`l${l}`))],
          subject: r.subject !== undefined && r.subject < rows.length && r.subject !== i ? d(`m${r.subject}`) : undefined,
        }),
      ),
    );

  it('never offers a tagged or young manifest, a child of a kept one or a referrer of a kept one', () => {
    fc.assert(
      fc.property(repoArb, fc.integer({ min: 0, max: 21 }), (manifests, cutoff) => {
        const r = markRepository({ name: 'r', manifests }, { untaggedCutoff: cutoff });
        const cand = new Set(r.candidates);
        for (const x of manifests) {
          if (x.tags.length || (x.touched ?? 0) >= cutoff) expect(cand.has(x.digest)).toBe(false);
          if (r.live.has(x.digest)) {
            for (const ref of x.references) {
              expect(cand.has(ref)).toBe(false);
              expect(r.reachable.has(ref)).toBe(true);
            }
          }
          if (x.subject && r.live.has(x.subject)) expect(cand.has(x.digest)).toBe(false);
        }
        // live and candidates partition the repository
        expect(r.live.size + cand.size).toBe(manifests.length);
      }),
    );
  });

  it('removing the candidates and marking again keeps the same reachable set', () => {
    fc.assert(
      fc.property(repoArb, fc.integer({ min: 0, max: 21 }), (manifests, cutoff) => {
        const r = markRepository({ name: 'r', manifests }, { untaggedCutoff: cutoff });
        const left = manifests.filter((x) => !r.candidates.includes(x.digest));
        const again = markRepository({ name: 'r', manifests: left });
        expect(again.reachable).toEqual(r.reachable);
      }),
    );
  });
});
