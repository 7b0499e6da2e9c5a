import fc from 'fast-check';
import { parseRetentionRule, ruleFor, tagsToDrop, type TagInfo } from './retention';

const DAY = 86_400_000;
const now = 100 * DAY;
const tags = (...xs: Array<[string, number]>): TagInfo[] => xs.map(([tag, daysAgo]) => ({ tag, taggedAt: now - daysAgo * DAY }));

describe('retention', () => {
  it('keeps the newest N', () => {
    expect(tagsToDrop(tags(['a', 5], ['b', 1], ['c', 3]), { repository: 'r', keepLast: 2 }, now)).toEqual(['a']);
  });
  it('keeps tags matching the pattern (whole tag)', () => {
    expect(
      tagsToDrop(tags(['v1.0', 5], ['dev-1', 1], ['v1.0-rc', 3]), { repository: 'r', keepPattern: 'v\\d+\\.\\d+' }, now).sort(),
    ).toEqual(['dev-1', 'v1.0-rc']);
  });
  it('drops only tags older than D days, unless kept', () => {
    const t = tags(['old', 40], ['older', 50], ['new', 1], ['release-1', 60]);
    expect(tagsToDrop(t, { repository: 'r', maxAgeDays: 30 }, now).sort()).toEqual(['old', 'older', 'release-1']);
    expect(tagsToDrop(t, { repository: 'r', maxAgeDays: 30, keepLast: 2, keepPattern: 'release-.*' }, now)).toEqual(['older']);
  });
  it('picks an exact rule first, else the longest matching pattern', () => {
    const rules = [{ repository: 'team/*' }, { repository: 'team/app*' }, { repository: 'team/app' }].map((r) => ({ ...r, keepLast: 1 }));
    expect(ruleFor(rules, 'team/app')!.repository).toBe('team/app');
    expect(ruleFor(rules, 'team/apple')!.repository).toBe('team/app*');
    expect(ruleFor(rules, 'team/x/y')!.repository).toBe('team/*');
    expect(ruleFor(rules, 'other')).toBeUndefined();
  });
  it('validates rules', () => {
    expect(() => parseRetentionRule({ repository: 'r' })).toThrow(/needs keepLast/);
    expect(() => parseRetentionRule({ repository: 'r', keepPattern: '(' })).toThrow(/regular expression/);
    expect(() => parseRetentionRule({ repository: 'r', keepLast: -1 })).toThrow();
    expect(parseRetentionRule({ repository: 'r', keepLast: 3 })).toEqual({ repository: 'r', keepLast: 3 });
  });

  const tagArb = fc.uniqueArray(fc.record({ tag: fc.stringMatching(/^[a-z0-9]{1,6}$/), taggedAt: fc.integer({ min: 0, max: now }) }), {
    selector: (t) => t.tag,
    maxLength: 30,
  });
  const ruleArb = fc.record(
    {
      repository: fc.constant('r'),
      keepLast: fc.nat(10),
      keepPattern: fc.constantFrom('a.*', '\\d+', 'x'),
      maxAgeDays: fc.integer({ min: 0, max: 100 }),
    },
    { requiredKeys: ['repository'] },
  );

  it('never drops a kept tag, never drops a young tag when an age is set, drops a subset', () => {
    fc.assert(
      fc.property(tagArb, ruleArb, (ts, rule) => {
        const drop = new Set(tagsToDrop(ts, rule, now));
        const names = new Set(ts.map((t) => t.tag));
        for (const t of drop) expect(names.has(t)).toBe(true);
        const newest = [...ts].sort((a, b) => b.taggedAt - a.taggedAt || a.tag.localeCompare(b.tag)).slice(0, rule.keepLast ?? 0);
        for (const t of newest) expect(drop.has(t.tag)).toBe(false);
        if (rule.keepPattern)
          for (const t of ts) if (new RegExp(`^(?:${rule.keepPattern})$`).test(t.tag)) expect(drop.has(t.tag)).toBe(false);
        if (rule.maxAgeDays !== undefined)
          for (const t of ts) if (now - t.taggedAt <= rule.maxAgeDays * DAY) expect(drop.has(t.tag)).toBe(false);
        // What stays with keepLast alone is exactly min(N, count) tags.
        if (rule.keepPattern === undefined && rule.maxAgeDays === undefined && rule.keepLast !== undefined)
          expect(ts.length - drop.size).toBe(Math.min(rule.keepLast, ts.length));
      }),
    );
  });
});
