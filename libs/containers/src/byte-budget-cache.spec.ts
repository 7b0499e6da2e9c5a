import fc from 'fast-check';
import { ByteBudgetCache } from './byte-budget-cache';

type Op = { op: 'set'; key: number; weight: number } | { op: 'get'; key: number } | { op: 'delete'; key: number };

const ops = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('set' as const), key: fc.nat(8), weight: fc.nat(120) }),
    fc.record({ op: fc.constant('get' as const), key: fc.nat(8) }),
    fc.record({ op: fc.constant('delete' as const), key: fc.nat(8) }),
  ),
  { maxLength: 80 },
);

describe('ByteBudgetCache', () => {
  it('never weighs more than its budget, and evicts exactly the least recently used (a model list)', () => {
    fc.assert(
      fc.property(fc.nat(200), ops, (budget, script: Op[]) => {
        const cache = new ByteBudgetCache<number, string>(budget);
        // The model: [key, weight], least recently used first.
        let model: Array<[number, number]> = [];
        for (const s of script) {
          if (s.op === 'set') {
            const kept = cache.set(s.key, `v${s.key}:${s.weight}`, s.weight);
            model = model.filter(([k]) => k !== s.key);
            expect(kept).toBe(s.weight <= budget);
            if (kept) {
              while (model.reduce((n, [, w]) => n + w, 0) + s.weight > budget) model.shift();
              model.push([s.key, s.weight]);
            }
          } else if (s.op === 'get') {
            const i = model.findIndex(([k]) => k === s.key);
            const got = cache.get(s.key);
            if (i < 0) expect(got).toBeUndefined();
            else {
              expect(got).toBe(`v${s.key}:${model[i][1]}`);
              model.push(...model.splice(i, 1));
            }
          } else {
            expect(cache.delete(s.key)).toBe(model.some(([k]) => k === s.key));
            model = model.filter(([k]) => k !== s.key);
          }
          expect(cache.weight).toBeLessThanOrEqual(budget);
          expect(cache.weight).toBe(model.reduce((n, [, w]) => n + w, 0));
          expect([...cache.keys()]).toEqual(model.map(([k]) => k));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses negative or missing budgets and weights', () => {
    expect(() => new ByteBudgetCache(-1)).toThrow(RangeError);
    expect(() => new ByteBudgetCache(Number.NaN)).toThrow(RangeError);
    expect(() => new ByteBudgetCache(10).set('a', 1, -5)).toThrow(RangeError);
  });
});
