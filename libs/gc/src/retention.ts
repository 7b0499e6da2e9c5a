// Retention rules per repository: keep the newest N tags, keep tags matching a pattern, drop tags
// older than D days. A tag goes when no keep rule holds it and, if an age is set, it is older than
// that age; a rule that sets only an age drops exactly the tags older than it.
import { RetentionRuleSchema, type RetentionRule } from '@stevedore/api-contract';
import { RegistryError } from '@stevedore/oci';

export { RetentionRuleSchema };
export type { RetentionRule };

export function parseRetentionRule(body: unknown): RetentionRule {
  const r = RetentionRuleSchema.safeParse(body);
  if (!r.success)
    throw new RegistryError('INVALID_REQUEST', 'invalid retention rule', {
      issues: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    });
  const rule = r.data;
  if (rule.keepLast === undefined && rule.keepPattern === undefined && rule.maxAgeDays === undefined) {
    throw new RegistryError('INVALID_REQUEST', 'a retention rule needs keepLast, keepPattern or maxAgeDays');
  }
  if (rule.keepPattern !== undefined) {
    try {
      new RegExp(rule.keepPattern);
    } catch {
      throw new RegistryError('INVALID_REQUEST', 'keepPattern is not a valid regular expression', { keepPattern: rule.keepPattern });
    }
  }
  return rule;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(
    '^' +
      glob
        .split('*')
        .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
}

/** The rule for a repository: an exact name wins, else the most specific (longest) matching pattern. */
export function ruleFor(rules: RetentionRule[], name: string): RetentionRule | undefined {
  const exact = rules.find((r) => r.repository === name);
  if (exact) return exact;
  return rules
    .filter((r) => r.repository.includes('*') && globToRegExp(r.repository).test(name))
    .sort((a, b) => b.repository.length - a.repository.length)[0];
}

export interface TagInfo {
  tag: string;
  taggedAt: number;
}

/** Tags the rule removes, newest first order not guaranteed. */
export function tagsToDrop(tags: TagInfo[], rule: RetentionRule, now: number): string[] {
  const newestFirst = [...tags].sort((a, b) => b.taggedAt - a.taggedAt || a.tag.localeCompare(b.tag));
  const kept = new Set<string>();
  if (rule.keepLast !== undefined) for (const t of newestFirst.slice(0, rule.keepLast)) kept.add(t.tag);
  if (rule.keepPattern !== undefined) {
    const re = new RegExp(`^(?:${rule.keepPattern})$`);
    for (const t of tags) if (re.test(t.tag)) kept.add(t.tag);
  }
  const maxAgeMs = rule.maxAgeDays === undefined ? undefined : rule.maxAgeDays * 86_400_000;
  return newestFirst.filter((t) => !kept.has(t.tag) && (maxAgeMs === undefined || now - t.taggedAt > maxAgeMs)).map((t) => t.tag);
}
