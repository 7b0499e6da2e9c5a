import fc from 'fast-check';
import { generateContainerName } from './container-names';

describe('generateContainerName', () => {
  it('makes adjective_surname names a container may carry, a digit appended after a clash', () => {
    fc.assert(
      fc.property(fc.nat(20), (attempt) => {
        const name = generateContainerName(attempt);
        expect(name).toMatch(attempt === 0 ? /^[a-z]+_[a-z]+$/ : /^[a-z]+_[a-z]+[0-9]$/);
        expect(name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/);
        expect(name.startsWith('boring_wozniak')).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('spreads over many names', () => {
    const seen = new Set(Array.from({ length: 500 }, () => generateContainerName()));
    expect(seen.size).toBeGreaterThan(450);
  });
});
