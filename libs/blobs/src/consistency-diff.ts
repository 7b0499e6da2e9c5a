// The consistency pass's comparison (pure): what storage says against what a Redis index says,
// as findings, each a repair of Redis towards storage. Storage is the truth, so a finding never
// asks to change storage: `add` an entry storage has and Redis lacks, `remove` one Redis has and
// storage lacks, `correct` one both have with different values (a tag naming another digest).
//
// A finding is only acted on when two looks some time apart both found it (`confirmed`): a write
// in flight (storage first, then Redis) or a removal in flight (Redis first, then storage) shows
// as a difference for a moment and is gone by the second look; what Redis really lost or kept
// stays. libs/metadata consistency-pass.ts explains each repair's safety.

/** What kind of index entry a finding is about (the metric's `kind`). */
export type ConsistencyKind = 'tag' | 'revision' | 'link' | 'manifest' | 'blob' | 'catalog' | 'imageid';
export type ConsistencyAction = 'add' | 'remove' | 'correct';

export interface Finding {
  kind: ConsistencyKind;
  action: ConsistencyAction;
  /** The repository, for per-repository entries. */
  repository?: string;
  /** The entry: a digest, a tag, an image ID's holder. */
  subject: string;
  /** What storage says (add, correct). */
  expected?: string;
  /** What Redis says (remove, correct). */
  actual?: string;
}

/** One string per finding: two findings with the same key are the same difference. */
export function findingKey(f: Finding): string {
  return JSON.stringify([f.kind, f.action, f.repository ?? null, f.subject, f.expected ?? null, f.actual ?? null]);
}

/** Members of a set in storage against the same set in Redis (revisions, layer links, ...). */
export function diffSets(
  kind: ConsistencyKind,
  repository: string | undefined,
  stored: Iterable<string>,
  indexed: Iterable<string>,
): Finding[] {
  const s = new Set(stored);
  const r = new Set(indexed);
  const out: Finding[] = [];
  const at = repository === undefined ? {} : { repository };
  for (const m of [...s].sort()) if (!r.has(m)) out.push({ kind, action: 'add', ...at, subject: m, expected: m });
  for (const m of [...r].sort()) if (!s.has(m)) out.push({ kind, action: 'remove', ...at, subject: m, actual: m });
  return out;
}

/** A map in storage against the same map in Redis (tag -> digest). */
export function diffMaps(
  kind: ConsistencyKind,
  repository: string | undefined,
  stored: ReadonlyMap<string, string>,
  indexed: ReadonlyMap<string, string>,
): Finding[] {
  const out: Finding[] = [];
  const at = repository === undefined ? {} : { repository };
  for (const k of [...stored.keys()].sort()) {
    const want = stored.get(k)!;
    const have = indexed.get(k);
    if (have === undefined) out.push({ kind, action: 'add', ...at, subject: k, expected: want });
    else if (have !== want) out.push({ kind, action: 'correct', ...at, subject: k, expected: want, actual: have });
  }
  for (const k of [...indexed.keys()].sort())
    if (!stored.has(k)) out.push({ kind, action: 'remove', ...at, subject: k, actual: indexed.get(k)! });
  return out;
}

/** The findings of `second` that `first` found too, exactly (the same entry, values and action). */
export function confirmed(first: readonly Finding[], second: readonly Finding[]): Finding[] {
  const seen = new Set(first.map(findingKey));
  return second.filter((f) => seen.has(findingKey(f)));
}

/** A map of Redis with the findings applied (what the repairs are meant to leave): the tests' model. */
export function applyFindings(indexed: ReadonlyMap<string, string>, findings: readonly Finding[]): Map<string, string> {
  const out = new Map(indexed);
  for (const f of findings) {
    if (f.action === 'remove') out.delete(f.subject);
    else out.set(f.subject, f.expected!);
  }
  return out;
}
