import fc from 'fast-check';
import { ByteLru } from './byte-lru';

describe('ByteLru', () => {
  it('never holds more than its byte bound and refuses oversized entries', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ maxLength: 3 }), fc.nat(300)), { maxLength: 200 }), (ops) => {
        const c = new ByteLru(1000, 250);
        for (const [k, n] of ops) {
          c.set(k, Buffer.alloc(n));
          expect(c.size.bytes).toBeLessThanOrEqual(1000);
          if (n > 250) expect(c.get(k)?.length === n).toBe(false);
        }
      }),
    );
  });

  it('evicts the least recently used first', () => {
    const c = new ByteLru(30, 10);
    c.set('a', Buffer.alloc(10));
    c.set('b', Buffer.alloc(10));
    c.set('c', Buffer.alloc(10));
    expect(c.get('a')).toBeDefined();
    c.set('d', Buffer.alloc(10));
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBeDefined();
    expect(c.get('c')).toBeDefined();
    expect(c.get('d')).toBeDefined();
  });
});
