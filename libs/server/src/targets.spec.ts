// The target table: `all` is the union of the split targets' roles, each role runs in exactly one
// split target, and every target's wiring is derived from its roles.
import { TARGETS } from '@stevedore/platform';
import { SPLIT_TARGETS, rolesOf } from './targets';

describe('targets', () => {
  it('derives all from the split targets, each role in exactly one of them', () => {
    const split = Object.values(SPLIT_TARGETS).flat();
    expect(new Set(split).size).toBe(split.length);
    expect([...rolesOf('all')].sort()).toEqual([...split].sort());
    expect(Object.keys(SPLIT_TARGETS).sort()).toEqual(TARGETS.filter((t) => t !== 'all').sort());
  });
});
