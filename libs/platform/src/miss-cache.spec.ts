import fc from 'fast-check';
import { MissCache } from './miss-cache';

describe('MissCache', () => {
  it('remembers a miss for its time to live, then forgets it', () => {
    const c = new MissCache(1000);
    c.add('a', 0);
    expect(c.has('a', 999)).toBe(true);
    expect(c.has('a', 1000)).toBe(false);
    expect(c.size).toBe(0);
  });

  it('never holds more than its bound, and drops the oldest first', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 3 }), { maxLength: 200 }), fc.integer({ min: 1, max: 20 }), (keys, max) => {
        const c = new MissCache(60_000, max);
        keys.forEach((k) => c.add(k, 0));
        expect(c.size).toBeLessThanOrEqual(max);
        // The newest `max` distinct keys (by last add) are the ones kept.
        const newest = [...new Map(keys.map((k, i) => [k, i])).entries()].sort((a, b) => b[1] - a[1]).slice(0, max);
        for (const [k] of newest) expect(c.has(k, 1)).toBe(true);
      }),
    );
  });
});
