// The consistency pass: every Redis index compared with storage, per repository and globally, and
// repaired towards storage (issue 24). Read repair fixes what a pull asks for; reindex rebuilds
// everything at once; this finds what nobody asked for (a tag list missing a tag Redis lost, a
// revision or blob record storage no longer backs) while the registry serves.
//
// What storage says is read through reindex's and read repair's own readers (the layouts' parsers,
// TagRepository.storedCurrent, ManifestRepository.hasStoredLink, layer storage's BlobConsistency),
// and additions are written back by read repair itself (ManifestReadRepair, statOrRepair).
//
// Compared, one repository at a time (yielding to the event loop between repositories): layer links
// and the records of linked blobs (libs/blobs blob-consistency.ts), revisions, the records of the
// manifests storage links, tags (tag -> digest), the repository's catalog entry and its manifests'
// image-ID holders. Then globally, a SCAN page at a time: blob and manifest records whose bytes are
// gone, and image IDs whose holders are gone.
//
// Why each repair is safe against writes in flight. Writes store first, then index, as DigestGuard
// writers of the digest (push, tag, mount, read repair); removals index first, then storage (untag,
// manifest delete, GC: its blob sweeps under a sweep lease, its untagged-manifest removal by a
// script that skips digests with a writer).
// 1. Two looks: a repository's findings count only when a second look `settleMs` later finds the
//    same (consistency-diff.ts `confirmed`). A push between its storage and its Redis step, or a
//    removal between its Redis and its storage step, is a difference of a moment, not of two looks.
// 2. Additions (an entry storage has and Redis lacks: tag, revision, record, link, blob record,
//    image-ID holder, catalog entry) are written as a writer of the digest, so GC leaves it alone
//    and a blob sweep of it has finished first, and are checked against storage again after the
//    write (read repair's own write-back); and once more `settleMs` later: a removal whose Redis
//    step landed just before the write-back has deleted its storage object by then, and the entry
//    is taken back (by the removal below, which looks again under a lease). So the pass never
//    resurrects what an untag or GC just removed: at most a moment, as read repair.
// 3. Removals (an entry Redis has and storage lacks) run under a sweep lease on the digest
//    (DigestGuard.sweep): taken only while no writer holds it, and writers that begin meanwhile
//    wait. Inside it storage is looked at again; a push that began before wrote storage first, so
//    the look sees its object, and one after waits and writes its entry after ours went. Tags are
//    removed (or corrected) only while Redis still names the digest seen (TagRepository.unrestore,
//    retarget), so a tagging to another digest since stays. So the pass never removes what a
//    concurrent push just wrote.
// 4. Catalog entries have no digest to lease: a removal is taken back when storage shows the
//    repository again after it (a first push writes its revision link before its catalog entry).
//    Image IDs without holders go by the same script that drops a last holder (atomic).
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import type Redis from 'ioredis';
import { parseManifest, type Digest } from '@stevedore/oci';
import { scanKeys, type RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import {
  DigestGuard,
  confirmed,
  createBlobConsistency,
  diffMaps,
  diffSets,
  type BlobConsistency,
  type BlobReader,
  type ConsistencyAction,
  type ConsistencyKind,
  type Finding,
  createBlobReader,
} from '@stevedore/blobs';
import { CatalogRepository } from './catalog-repository';
import { ImageIdRepository, imageIdOf } from './image-id-repository';
import { ManifestRepository } from './manifest-repository';
import { metadataKeys, metadataPaths, parseMetadataLink, type MetadataKeys } from './metadata-layout';
import { ManifestReadRepair } from './read-repair';
import { ReferrerRepository } from './referrer-repository';
import { TagRepository } from './tag-repository';

export interface ConsistencyRunOptions {
  /** Report what differs without repairing anything. */
  dryRun?: boolean;
  /** After each batch of repositories: how many are done (a job's progress). */
  onProgress?: (repositories: number) => void;
}

export interface ConsistencyPassOptions {
  /** Between the two looks at a difference, and before an addition is checked again (ms). */
  settleMs?: number;
  /** Once per entry repaired (a metric). */
  onRepair?: (kind: ConsistencyKind, action: ConsistencyAction) => void;
  /** Repositories whose looks share one settle wait (default 50). */
  batchSize?: number;
  /** Tests: called after the first look at a repository found something, before the settle wait. */
  beforeSecondLook?: (name: string) => Promise<void>;
  /** Tests: called once both looks at a repository agreed, before anything is repaired. */
  beforeRepair?: (name: string) => Promise<void>;
  /** Tests: called after the additions of a repository were written, before they are checked again. */
  afterAdditions?: (name: string) => Promise<void>;
}

export interface ConsistencyCounts {
  add: number;
  remove: number;
  correct: number;
}

export interface ConsistencyReport {
  dryRun: boolean;
  startedAt: string;
  durationMs: number;
  repositories: number;
  /** Differences both looks found. */
  found: number;
  /** Of those, repaired (dry run: 0). */
  repaired: number;
  /** Repairs taken back because storage lost the entry meanwhile (a removal raced the write-back). */
  takenBack: number;
  /** Repaired, by kind and action. */
  byKind: Partial<Record<ConsistencyKind, ConsistencyCounts>>;
  /** The first differences found (at most MAX_LISTED), each with whether it was repaired. */
  findings: Array<Finding & { repaired: boolean }>;
}

const MAX_LISTED = 200;
const ACTIONS: Record<ConsistencyAction, keyof ConsistencyCounts> = { add: 'add', remove: 'remove', correct: 'correct' };

/** A blank report (tests compare against it). */
function newReport(dryRun: boolean): ConsistencyReport {
  return {
    dryRun,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    repositories: 0,
    found: 0,
    repaired: 0,
    takenBack: 0,
    byKind: {},
    findings: [],
  };
}

export class ConsistencyPass {
  private readonly k: MetadataKeys;
  private readonly settleMs: number;
  private readonly batch: number;

  constructor(
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    keys: RedisKeys,
    private readonly parts: {
      manifests: ManifestRepository;
      tags: TagRepository;
      catalog: CatalogRepository;
      imageIds: ImageIdRepository;
      guard: DigestGuard;
      repair: ManifestReadRepair;
      blobs: BlobConsistency;
      blobReader: BlobReader;
    },
    private readonly options: ConsistencyPassOptions = {},
  ) {
    this.k = metadataKeys(keys);
    this.settleMs = options.settleMs ?? 2000;
    this.batch = Math.max(1, options.batchSize ?? 50);
  }

  async run(run: ConsistencyRunOptions = {}): Promise<ConsistencyReport> {
    const started = Date.now();
    const report = newReport(run.dryRun ?? false);
    const names = await this.repositoryNames();
    for (let i = 0; i < names.length; i += this.batch) {
      const batch = names.slice(i, i + this.batch);
      await this.repositories(batch, report);
      report.repositories += batch.length;
      run.onProgress?.(report.repositories);
    }
    await this.blobRecords(report);
    await this.manifestRecords(report);
    await this.imageIds(report);
    report.durationMs = Date.now() - started;
    return report;
  }

  /** Every repository storage or Redis knows, sorted: names only (the entries are read one repository at a time). */
  private async repositoryNames(): Promise<string[]> {
    const names = new Set<string>();
    for await (const f of this.storage.list(metadataPaths.repositoriesRoot)) {
      const name = parseMetadataLink(f.path)?.name ?? this.parts.blobs.repositoryOfPath(f.path);
      if (name) names.add(name);
    }
    let last: string | undefined;
    do {
      const page = await this.parts.catalog.page(1000, last);
      for (const n of page.items) names.add(n);
      last = page.next;
    } while (last);
    // Every master's keys on a cluster (scanKeys), one Redis's otherwise.
    for await (const keys of scanKeys(this.redis, this.k.repositoryKeysPattern)) {
      for (const key of keys) {
        const n = this.k.repositoryOfKey(key);
        if (n) names.add(n);
      }
    }
    return [...names].sort();
  }

  // ---- one repository

  /** What storage says of `name`'s manifests: its revisions and its tags (onto revisions it holds). */
  private async stored(name: string): Promise<{ revisions: Set<Digest>; tags: Map<string, Digest>; any: boolean }> {
    const revisions = new Set<Digest>();
    const tagNames: string[] = [];
    let any = false;
    for await (const f of this.storage.list(metadataPaths.manifestsRoot(name))) {
      const link = parseMetadataLink(f.path);
      if (!link || link.name !== name) continue;
      any = true;
      if (link.kind === 'revision') revisions.add(link.digest);
      else if (link.kind === 'tag') tagNames.push(link.tag);
    }
    const tags = new Map<string, Digest>();
    for (const tag of tagNames) {
      const current = await this.parts.tags.storedCurrent(name, tag);
      // As reindex: a tag only onto a manifest the repository holds.
      if (current && revisions.has(current.digest)) tags.set(tag, current.digest);
    }
    return { revisions, tags, any };
  }

  /** One look at `name`: every difference between its Redis entries and storage. */
  private async look(name: string): Promise<Finding[]> {
    // Redis before storage: an entry Redis shows was stored before it was indexed.
    const [indexedRevisions, indexedTags, inCatalog] = await Promise.all([
      this.parts.manifests.indexedRevisions(name),
      this.parts.tags.indexed(name),
      this.parts.catalog.has(name),
    ]);
    const linkFindings = await this.parts.blobs.linkFindings(name);
    const s = await this.stored(name);
    const findings: Finding[] = [...linkFindings];
    const links = linkFindings.filter((f) => f.action === 'add').map((f) => f.subject as Digest);
    for (const d of await this.parts.blobs.indexedLinks(name)) links.push(d);
    findings.push(...(await this.parts.blobs.blobFindings(links)));
    const revisionFindings = diffSets('revision', name, s.revisions, indexedRevisions);
    findings.push(...revisionFindings);
    const indexed = new Set(indexedRevisions);
    for (const d of [...s.revisions].sort()) {
      // A revision added back brings its record; one Redis has must have its record too (when storage has the bytes).
      if (indexed.has(d) && !(await this.parts.manifests.hasRecord(d)) && (await this.parts.blobs.hasData(d)))
        findings.push({ kind: 'manifest', action: 'add', repository: name, subject: d, expected: d });
    }
    for (const d of indexedRevisions.filter((x) => s.revisions.has(x)).sort()) {
      const id = await this.imageIdOf(d);
      if (id && !(await this.parts.imageIds.isHeld(name, d, id)))
        findings.push({ kind: 'imageid', action: 'add', repository: name, subject: d, expected: id });
    }
    findings.push(...diffMaps('tag', name, s.tags, indexedTags));
    if (s.revisions.size > 0 && !inCatalog) findings.push({ kind: 'catalog', action: 'add', subject: name, expected: name });
    if (!s.any && inCatalog && indexedRevisions.length === 0 && (await this.parts.blobs.storedLinkCount(name)) === 0)
      findings.push({ kind: 'catalog', action: 'remove', subject: name, actual: name });
    return findings;
  }

  /**
   * A batch of repositories, each looked at on its own (one repository's entries in memory at a
   * time, yielding between them), sharing the settle waits: a Redis that lost much waits twice per
   * batch, not twice per repository.
   */
  private async repositories(names: string[], report: ConsistencyReport): Promise<void> {
    const firsts = new Map<string, Finding[]>();
    for (const name of names) {
      const first = await this.look(name);
      if (first.length) firsts.set(name, first);
      // Never hold the event loop across repositories: requests of this process go in between.
      await yieldToLoop();
    }
    if (!firsts.size) return;
    for (const name of firsts.keys()) await this.options.beforeSecondLook?.(name);
    await sleep(this.settleMs);
    const found = new Map<string, Finding[]>();
    for (const [name, first] of firsts) {
      const both = confirmed(first, await this.look(name));
      if (both.length) found.set(name, both);
      await yieldToLoop();
    }
    if (report.dryRun) {
      for (const f of [...found.values()].flat()) this.note(report, f, false);
      return;
    }
    const added: Finding[] = [];
    for (const [name, findings] of found) {
      await this.options.beforeRepair?.(name);
      added.push(...(await this.repair(findings, report)));
      await yieldToLoop();
    }
    if (!added.length) return;
    // The check after the write-back, once more a moment later (point 2 at the top).
    for (const name of new Set(added.flatMap((f) => (f.repository ? [f.repository] : [])))) await this.options.afterAdditions?.(name);
    await sleep(this.settleMs);
    for (const f of added) if (await this.takeBackIfGone(f).catch(() => false)) report.takenBack++;
  }

  /** One repository's confirmed findings, repaired in an order that has what each needs first; the additions made. */
  private async repair(found: Finding[], report: ConsistencyReport): Promise<Finding[]> {
    const added: Finding[] = [];
    // Links and blob records, revisions and records before tags and image IDs: those need them.
    const order: ConsistencyKind[] = ['link', 'blob', 'revision', 'manifest', 'catalog', 'tag', 'imageid'];
    for (const kind of order) {
      for (const f of found.filter((x) => x.kind === kind)) {
        const done = await this.apply(f).catch(() => false);
        this.note(report, f, done);
        if (done && f.action !== 'remove') added.push(f);
      }
    }
    return added;
  }

  /** Repair one confirmed finding; whether Redis changed. */
  private async apply(f: Finding): Promise<boolean> {
    const name = f.repository!;
    switch (f.kind) {
      case 'link':
        return this.parts.blobs.repairLink(f);
      case 'blob':
        return f.action === 'add'
          ? this.parts.blobs.addBlobRecord(f.subject as Digest)
          : this.parts.blobs.removeBlobIfGone(f.subject as Digest);
      case 'revision': {
        const d = f.subject as Digest;
        if (f.action === 'remove') return this.removeRevisionIfGone(name, d);
        if (await this.parts.manifests.isLinked(name, d)) return false;
        return this.parts.repair.revision(name, d);
      }
      case 'manifest':
        if (f.action === 'remove') return this.removeRecordIfGone(f.subject as Digest);
        if (await this.parts.manifests.hasRecord(f.subject as Digest)) return false;
        return (await this.parts.repair.record(f.subject as Digest)) !== undefined;
      case 'catalog':
        if (f.action === 'add') {
          if (await this.parts.catalog.has(f.subject)) return false;
          await this.parts.catalog.add(f.subject);
          return true;
        }
        return this.removeCatalogIfEmpty(f.subject);
      case 'tag':
        return this.repairTag(name, f);
      case 'imageid':
        return f.action === 'add' ? this.addImageHolder(name, f.subject as Digest, f.expected as Digest) : this.removeImageId(f);
    }
  }

  private async repairTag(name: string, f: Finding): Promise<boolean> {
    const tag = f.subject;
    if (f.action === 'add') {
      if ((await this.parts.tags.current(name, tag)) !== undefined) return false;
      // Read repair's write-back: as a writer of the digest, checked again after writing.
      return (await this.parts.repair.tag(name, tag)) !== undefined;
    }
    if (f.action === 'correct') {
      const to = f.expected as Digest;
      return this.parts.guard.hold([to], async () => {
        const stored = await this.parts.tags.storedCurrent(name, tag);
        if (stored?.digest !== to || !(await this.parts.manifests.isLinked(name, to))) return false;
        return this.parts.tags.retarget(name, tag, f.actual as Digest, to, stored.at);
      });
    }
    return this.removeTagIfGone(name, tag, f.actual as Digest);
  }

  /** A tag whose link is gone, under a lease on the digest Redis names, only while Redis still names it. */
  private async removeTagIfGone(name: string, tag: string, digest: Digest): Promise<boolean> {
    const r = await this.parts.guard.sweep(digest, async () => {
      if ((await this.parts.tags.storedCurrent(name, tag)) !== undefined) return false;
      return this.parts.tags.unrestore(name, tag, digest);
    });
    return r?.value ?? false;
  }

  /** A revision whose link is gone, under a lease on the digest (with its referrer entry and image holder). */
  private async removeRevisionIfGone(name: string, digest: Digest): Promise<boolean> {
    const r = await this.parts.guard.sweep(digest, async () => {
      if (!(await this.parts.manifests.isLinked(name, digest))) return false;
      if (await this.parts.manifests.hasStoredLink(name, digest)) return false;
      await this.parts.manifests.remove(name, digest);
      return true;
    });
    return r?.value ?? false;
  }

  /** A manifest record whose bytes are gone, under a lease on the digest. */
  private async removeRecordIfGone(digest: Digest): Promise<boolean> {
    const r = await this.parts.guard.sweep(digest, async () => {
      if (!(await this.recordGone(digest))) return false;
      await this.parts.manifests.dropRecord(digest);
      return true;
    });
    return r?.value ?? false;
  }

  private async recordGone(digest: Digest): Promise<boolean> {
    return (await this.parts.manifests.hasRecord(digest)) && !(await this.parts.blobs.hasData(digest));
  }

  /** The catalog entry of a repository storage holds nothing of; put back if storage shows it after the removal. */
  private async removeCatalogIfEmpty(name: string): Promise<boolean> {
    if (!(await this.parts.catalog.remove(name))) return false;
    const s = await this.stored(name);
    if (s.any || (await this.parts.manifests.indexedRevisions(name)).length > 0) {
      await this.parts.catalog.add(name);
      return false;
    }
    return true;
  }

  private async addImageHolder(name: string, digest: Digest, id: Digest): Promise<boolean> {
    return this.parts.guard.hold([digest], async () => {
      if (!(await this.parts.manifests.isLinked(name, digest)) || (await this.parts.imageIds.isHeld(name, digest, id))) return false;
      await this.parts.imageIds.add(name, digest, id);
      // The revision went meanwhile (its removal drops the revision, then the holder): take it back.
      if (await this.parts.manifests.isLinked(name, digest)) return true;
      await this.parts.imageIds.remove(name, digest, id);
      return false;
    });
  }

  private async removeImageId(f: Finding): Promise<boolean> {
    const id = f.actual as Digest;
    if (f.repository === undefined) return this.parts.imageIds.forgetIfUnheld(id);
    const name = f.repository;
    const digest = f.subject as Digest;
    const r = await this.parts.guard.sweep(digest, async () => {
      if (await this.parts.manifests.isLinked(name, digest)) return false;
      await this.parts.imageIds.remove(name, digest, id);
      return true;
    });
    return r?.value ?? false;
  }

  /** An addition whose storage object went since: removed again, by the removals' own checks. */
  private async takeBackIfGone(f: Finding): Promise<boolean> {
    const name = f.repository!;
    switch (f.kind) {
      case 'link':
        return this.parts.blobs.removeLinkIfGone(name, f.subject as Digest);
      case 'blob':
        return this.parts.blobs.removeBlobIfGone(f.subject as Digest);
      case 'revision':
        return this.removeRevisionIfGone(name, f.subject as Digest);
      case 'manifest':
        return this.removeRecordIfGone(f.subject as Digest);
      case 'tag': {
        const stored = await this.parts.tags.storedCurrent(name, f.subject);
        // Moved on in storage: a tagging in flight writes its own entry.
        return stored === undefined && this.removeTagIfGone(name, f.subject, f.expected as Digest);
      }
      case 'catalog':
      case 'imageid':
        // Checked against their source right after the write (catalog: storage; holder: the revision).
        return false;
    }
  }

  private note(report: ConsistencyReport, f: Finding, repaired: boolean): void {
    report.found++;
    if (report.findings.length < MAX_LISTED) report.findings.push({ ...f, repaired });
    if (!repaired) return;
    report.repaired++;
    const counts = (report.byKind[f.kind] ??= { add: 0, remove: 0, correct: 0 });
    counts[ACTIONS[f.action]]++;
    this.options.onRepair?.(f.kind, f.action);
  }

  private async imageIdOf(digest: Digest): Promise<Digest | undefined> {
    const record = await this.parts.manifests.read(digest);
    if (!record) return undefined;
    try {
      return imageIdOf(parseManifest(record.bytes, record.mediaType));
    } catch {
      return undefined;
    }
  }

  // ---- global: a SCAN page at a time, each finding looked at again after the settle wait

  private async pages(
    report: ConsistencyReport,
    page: (cursor?: string) => Promise<{ findings: Finding[]; cursor?: string }>,
    still: (f: Finding) => Promise<boolean>,
    repair: (f: Finding) => Promise<boolean>,
  ): Promise<void> {
    let cursor: string | undefined;
    do {
      const p = await page(cursor);
      cursor = p.cursor;
      if (!p.findings.length) continue;
      await sleep(this.settleMs);
      for (const f of p.findings) {
        if (!(await still(f))) continue;
        this.note(report, f, !report.dryRun && (await repair(f).catch(() => false)));
      }
      await yieldToLoop();
    } while (cursor);
  }

  private blobRecords(report: ConsistencyReport): Promise<void> {
    return this.pages(
      report,
      (c) => this.parts.blobs.blobRecordPage(c),
      (f) => this.parts.blobs.blobRecordGone(f.subject as Digest),
      (f) => this.parts.blobs.removeBlobIfGone(f.subject as Digest),
    );
  }

  private manifestRecords(report: ConsistencyReport): Promise<void> {
    return this.pages(
      report,
      async (c) => {
        const page = await this.parts.manifests.listData(c);
        const findings: Finding[] = [];
        // A few storage stats at a time, not a page's thousand at once.
        for (let i = 0; i < page.items.length; i += 32) {
          const chunk = page.items.slice(i, i + 32);
          const held = await Promise.all(chunk.map((r) => this.parts.blobs.hasData(r.digest)));
          chunk.forEach((r, j) => {
            if (!held[j]) findings.push({ kind: 'manifest', action: 'remove', subject: r.digest, actual: String(r.size) });
          });
        }
        return page.cursor ? { findings, cursor: page.cursor } : { findings };
      },
      (f) => this.recordGone(f.subject as Digest),
      (f) => this.removeRecordIfGone(f.subject as Digest),
    );
  }

  /** Image IDs whose holders' revisions are gone, or that nothing holds. */
  private imageIds(report: ConsistencyReport): Promise<void> {
    const holderGone = async (f: Finding) =>
      f.repository === undefined
        ? (await this.parts.imageIds.allHolders(f.actual as Digest)).length === 0
        : !(await this.parts.manifests.isLinked(f.repository, f.subject as Digest)) &&
          (await this.parts.imageIds.allHolders(f.actual as Digest)).some((h) => h.name === f.repository && h.digest === f.subject);
    return this.pages(
      report,
      async (after) => {
        const ids = await this.parts.imageIds.find('sha256:', 1000, after);
        const findings: Finding[] = [];
        for (const id of ids) {
          const holders = await this.parts.imageIds.allHolders(id);
          if (!holders.length) findings.push({ kind: 'imageid', action: 'remove', subject: id, actual: id });
          for (const h of holders)
            if (!(await this.parts.manifests.isLinked(h.name, h.digest)))
              findings.push({ kind: 'imageid', action: 'remove', repository: h.name, subject: h.digest, actual: id });
        }
        return ids.length === 1000 ? { findings, cursor: ids[ids.length - 1] } : { findings };
      },
      holderGone,
      (f) => this.removeImageId(f),
    );
  }
}

/** The consistency pass over `storage` and `redis`: any process that has both may run it. */
export function createConsistencyPass(
  storage: StorageDriver,
  redis: Redis,
  keys: RedisKeys,
  options: ConsistencyPassOptions = {},
): ConsistencyPass {
  const guard = new DigestGuard(redis, keys);
  const catalog = new CatalogRepository(redis, keys);
  const imageIds = new ImageIdRepository(redis, keys);
  const manifests = new ManifestRepository(storage, redis, keys, guard, catalog, new ReferrerRepository(redis, keys), imageIds);
  const tags = new TagRepository(storage, redis, keys);
  const blobReader = createBlobReader(storage, redis, keys);
  // Read repair's write-back, without its memory of misses (every look here is a fresh one).
  const repair = new ManifestReadRepair(manifests, tags, guard, blobReader.readContent, { missTtlMs: 1 });
  const blobs = createBlobConsistency(storage, redis, keys);
  return new ConsistencyPass(storage, redis, keys, { manifests, tags, catalog, imageIds, guard, repair, blobs, blobReader }, options);
}
