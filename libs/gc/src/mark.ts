// The mark phase, pure: which manifests each repository keeps and which digests they reach.
// Roots are tagged manifests and untagged ones touched since the cutoff; from a kept manifest GC
// follows its config, layers and child manifests (an index's), and keeps every referrer whose
// subject is kept. Everything else untagged is a candidate for removal.
import type { Digest } from '@stevedore/oci';
import type { ManifestRecord } from '@stevedore/metadata';

export interface RepositoryManifests {
  name: string;
  manifests: ManifestRecord[];
}

export interface MarkOptions {
  /** Untagged manifests touched before this (ms) may go; undefined keeps every untagged manifest. */
  untaggedCutoff?: number;
  /** Tags to treat as gone (retention in a dry run), by repository. */
  droppedTags?: Map<string, Set<string>>;
}

export interface MarkResult {
  /** Kept manifests, by repository. */
  live: Map<string, Set<Digest>>;
  /** Untagged manifests that may be removed, by repository. */
  candidates: Map<string, Digest[]>;
  /** Digests (manifests and blobs) reached from the kept manifests of each repository. */
  reachableIn: Map<string, Set<Digest>>;
  /** Union of reachableIn. */
  reachable: Set<Digest>;
}

function isRoot(m: ManifestRecord, dropped: Set<string> | undefined, cutoff: number | undefined): boolean {
  if (m.tags.some((t) => !dropped?.has(t.tag))) return true;
  if (cutoff === undefined) return true;
  // Never stamped yet: GC stamps it now and judges it on a later run.
  return m.touched === undefined || m.touched >= cutoff;
}

export function markRepository(
  repo: RepositoryManifests,
  options: MarkOptions = {},
): { live: Set<Digest>; candidates: Digest[]; reachable: Set<Digest> } {
  const byDigest = new Map(repo.manifests.map((m) => [m.digest, m]));
  const referrersOf = new Map<Digest, Digest[]>();
  for (const m of repo.manifests) {
    if (m.subject) referrersOf.set(m.subject, [...(referrersOf.get(m.subject) ?? []), m.digest]);
  }
  const dropped = options.droppedTags?.get(repo.name);
  const live = new Set<Digest>();
  const reachable = new Set<Digest>();
  const queue: Digest[] = [];
  const keep = (d: Digest) => {
    if (live.has(d) || !byDigest.has(d)) return;
    live.add(d);
    queue.push(d);
  };
  for (const m of repo.manifests) if (isRoot(m, dropped, options.untaggedCutoff)) keep(m.digest);
  while (queue.length) {
    const d = queue.pop()!;
    reachable.add(d);
    for (const r of byDigest.get(d)!.references) {
      reachable.add(r);
      keep(r);
    }
    for (const r of referrersOf.get(d) ?? []) keep(r);
  }
  const candidates = repo.manifests.filter((m) => !live.has(m.digest)).map((m) => m.digest);
  return { live, candidates, reachable };
}

export function mark(repositories: RepositoryManifests[], options: MarkOptions = {}): MarkResult {
  const result: MarkResult = { live: new Map(), candidates: new Map(), reachableIn: new Map(), reachable: new Set() };
  for (const repo of repositories) {
    const r = markRepository(repo, options);
    result.live.set(repo.name, r.live);
    if (r.candidates.length) result.candidates.set(repo.name, r.candidates);
    result.reachableIn.set(repo.name, r.reachable);
    for (const d of r.reachable) result.reachable.add(d);
  }
  return result;
}
