// The consistency pass's comparison, as properties: repairing Redis by the findings leaves exactly
// what storage says; nothing is found where the two agree; two looks confirm only what both found.
import fc from 'fast-check';
import { applyFindings, confirmed, diffMaps, diffSets, findingKey, type Finding } from './consistency-diff';

const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'v1', 'latest');
const value = fc.constantFrom('sha256:1', 'sha256:2', 'sha256:3');
const map = fc.dictionary(key, value).map((o) => new Map(Object.entries(o)));
const set = fc.uniqueArray(key);

describe('consistency diff', () => {
  it('maps: Redis repaired by the findings is storage, each entry found once', () => {
    fc.assert(
      fc.property(map, map, (stored, indexed) => {
        const findings = diffMaps('tag', 'r', stored, indexed);
        expect(applyFindings(indexed, findings)).toEqual(stored);
        expect(new Set(findings.map((f) => f.subject)).size).toBe(findings.length);
        for (const f of findings) {
          if (f.action === 'add') expect(indexed.has(f.subject)).toBe(false);
          if (f.action === 'remove') expect(stored.has(f.subject)).toBe(false);
          if (f.action === 'correct') expect(indexed.get(f.subject)).not.toBe(stored.get(f.subject));
        }
      }),
    );
  });

  it('maps and sets: nothing is found where storage and Redis agree', () => {
    fc.assert(fc.property(map, (m) => expect(diffMaps('tag', 'r', m, new Map(m))).toEqual([])));
    fc.assert(fc.property(set, (s) => expect(diffSets('revision', 'r', s, [...s].reverse())).toEqual([])));
  });

  it('sets: adds are storage minus Redis, removes Redis minus storage', () => {
    fc.assert(
      fc.property(set, set, (stored, indexed) => {
        const findings = diffSets('link', 'r', stored, indexed);
        const adds = findings.filter((f) => f.action === 'add').map((f) => f.subject);
        const removes = findings.filter((f) => f.action === 'remove').map((f) => f.subject);
        expect(adds).toEqual(stored.filter((x) => !indexed.includes(x)).sort());
        expect(removes).toEqual(indexed.filter((x) => !stored.includes(x)).sort());
        expect(findings.every((f) => f.action !== 'correct')).toBe(true);
      }),
    );
  });

  it('confirmed: only what both looks found, with the same values', () => {
    fc.assert(
      fc.property(map, map, map, (stored, first, second) => {
        const a = diffMaps('tag', 'r', stored, first);
        const b = diffMaps('tag', 'r', stored, second);
        const both = confirmed(a, b);
        const keysA = new Set(a.map(findingKey));
        const keysB = new Set(b.map(findingKey));
        expect(both.every((f) => keysA.has(findingKey(f)) && keysB.has(findingKey(f)))).toBe(true);
        expect(both.length).toBe([...keysA].filter((k) => keysB.has(k)).length);
        // A difference that was gone at the second look (a write in flight landed) is never acted on.
        expect(confirmed(a, [])).toEqual([]);
      }),
    );
  });

  it('confirmed: a tag that moved between the looks is not corrected to the first look’s digest', () => {
    const stored = new Map([['v1', 'sha256:2']]);
    const first = diffMaps('tag', 'r', stored, new Map([['v1', 'sha256:1']]));
    const later: Finding[] = diffMaps('tag', 'r', new Map([['v1', 'sha256:3']]), new Map([['v1', 'sha256:1']]));
    expect(first).toHaveLength(1);
    expect(confirmed(first, later)).toEqual([]);
  });
});
