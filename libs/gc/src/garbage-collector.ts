// One GC run: retention, mark, removal of untagged manifests, sweep of blobs and manifest records,
// upload purging and the quota recount. Every deletion goes through the services' atomic sweep
// calls, which skip anything a push touched after the cutoff or is writing now (see DigestGuard in
// libs/blobs), so the run needs no lock against pushes and pulls.
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { RegistryError, type Digest } from '@stevedore/oci';
import type { RedisKeys, StevedoreMetrics } from '@stevedore/platform';
import { DigestGuard, type BlobGcService, type BlobSweepItem } from '@stevedore/blobs';
import type { ConsistencyPass, ManifestGcService, ManifestRecord, MetadataService } from '@stevedore/metadata';
import type { ContainerGcService } from '@stevedore/containers';
import { mark, type RepositoryManifests } from './mark';
import { ruleFor, tagsToDrop } from './retention';
import type { RetentionStore } from './retention-store';
import { namespaceOf, type NamespaceQuotas } from './namespace-quotas';
import { REPORT_LIST_LIMIT, type GcReport, type GcRunRequest } from './gc-run';

export interface GcSettings {
  graceSeconds: number;
  untaggedMaxAgeSeconds: number;
  uploadMaxAgeSeconds: number;
  /** Blobs per sweep call (and so per storage deleteMany). */
  batchSize: number;
}

export interface GcDeps {
  redis: Redis;
  keys: RedisKeys;
  blobs: BlobGcService;
  manifests: ManifestGcService;
  metadata: MetadataService;
  retention: RetentionStore;
  quotas: NamespaceQuotas;
  metrics?: StevedoreMetrics;
  /** Where containers are hosted (their file contents are collected too); absent in a target without them. */
  containers?: ContainerGcService;
  /**
   * Run before marking: GC marks from Redis, and Redis may have lost acknowledged index writes (an
   * asynchronous replica promoted, a flushed Redis) that storage holds. Without it a tag whose
   * entries Redis lost would leave its manifest and blobs unreferenced to the mark.
   */
  consistency?: Pick<ConsistencyPass, 'run'>;
}

const push = <T>(list: T[], v: T) => {
  if (list.length < REPORT_LIST_LIMIT) list.push(v);
};

export class GarbageCollector {
  private readonly logger = new Logger('gc');
  private readonly clock: DigestGuard;

  constructor(
    private readonly deps: GcDeps,
    private readonly settings: GcSettings,
  ) {
    this.clock = new DigestGuard(deps.redis, deps.keys);
  }

  private async repositories(): Promise<string[]> {
    const names: string[] = [];
    let last: string | undefined;
    for (;;) {
      const page = await this.deps.metadata.catalog(1000, last);
      names.push(...page.items);
      if (!page.next) return names;
      last = page.next;
    }
  }

  private async readAll(names: string[]): Promise<RepositoryManifests[]> {
    const out: RepositoryManifests[] = [];
    for (const name of names) out.push({ name, manifests: await this.deps.manifests.listManifests(name) });
    return out;
  }

  async run(request: GcRunRequest, progress: (phase: string) => void = () => undefined): Promise<GcReport> {
    const dryRun = request.dryRun;
    const graceSeconds = request.graceSeconds ?? this.settings.graceSeconds;
    const untaggedMaxAgeSeconds = request.untaggedMaxAgeSeconds ?? this.settings.untaggedMaxAgeSeconds;
    const uploadMaxAgeSeconds = request.uploadMaxAgeSeconds ?? this.settings.uploadMaxAgeSeconds;
    // One clock (Redis') for every stamp and cutoff; taken before anything is read.
    const t0 = await this.clock.now();
    const started = Date.now();
    const cutoff = t0 - graceSeconds * 1000;
    // An untagged manifest never goes sooner than the grace a blob gets.
    const untaggedCutoff = untaggedMaxAgeSeconds > 0 ? t0 - Math.max(untaggedMaxAgeSeconds, graceSeconds) * 1000 : undefined;
    const report: GcReport = {
      dryRun,
      startedAt: new Date(started).toISOString(),
      durationMs: 0,
      settings: { graceSeconds, untaggedMaxAgeSeconds, uploadMaxAgeSeconds },
      repositories: 0,
      retention: { tagsDeleted: 0, tags: [] },
      manifests: { scanned: 0, deleted: 0, bytesFreed: 0, digests: [], recordsPurged: 0 },
      blobs: { scanned: 0, deleted: 0, unlinked: 0, skipped: 0, bytesFreed: 0, digests: [] },
      uploads: { sessions: 0, bytesFreed: 0, multipartAborted: 0 },
      deleteBatches: 0,
      bytesFreed: 0,
    };

    if (!dryRun && this.deps.consistency) {
      progress('consistency');
      const pass = await this.deps.consistency.run();
      report.consistency = { found: pass.found, repaired: pass.repaired };
    }

    progress('retention');
    const names = await this.repositories();
    report.repositories = names.length;
    let repos = await this.readAll(names);
    const droppedTags = await this.applyRetention(repos, t0, dryRun, report);
    if (!dryRun && report.retention.tagsDeleted) repos = await this.readAll(names);

    progress('mark');
    const first = mark(repos, { untaggedCutoff, droppedTags: dryRun ? droppedTags : undefined });
    report.manifests.scanned = repos.reduce((n, r) => n + r.manifests.length, 0);
    const removed = new Map<string, Set<Digest>>();
    const sizes = new Map<Digest, number>();
    for (const r of repos) for (const m of r.manifests) sizes.set(m.digest, m.size);
    for (const [name, candidates] of first.candidates) {
      const gone = dryRun ? candidates : await this.deps.manifests.deleteUntagged(name, candidates, { olderThan: untaggedCutoff! });
      removed.set(name, new Set(gone));
      for (const d of gone) push(report.manifests.digests, { repository: name, digest: d });
      report.manifests.deleted += gone.length;
    }
    // What is left is kept whole: a candidate the store refused (tagged or pushed meanwhile) is a root.
    const remaining = repos.map((r) => ({ name: r.name, manifests: r.manifests.filter((m) => !removed.get(r.name)?.has(m.digest)) }));
    const marked = mark(remaining, { droppedTags: dryRun ? droppedTags : undefined });

    progress('sweep');
    const linksOf = new Map<Digest, string[]>();
    const linksByRepo = new Map<string, Digest[]>();
    for (const name of names) {
      const links = await this.deps.blobs.listLinks(name);
      linksByRepo.set(name, links);
      for (const d of links) linksOf.set(d, [...(linksOf.get(d) ?? []), name]);
    }
    const goneData = new Set<Digest>();
    const unlinkedFrom = new Map<Digest, Set<string>>();
    let batch: BlobSweepItem[] = [];
    const flush = async () => {
      if (!batch.length) return;
      const items = batch;
      batch = [];
      if (dryRun) {
        for (const it of items) {
          if (it.deleteData) this.countDeleted(report, it.digest, sizes.get(it.digest) ?? 0, goneData);
          report.blobs.unlinked += it.unlinkFrom.length;
        }
        report.deleteBatches++;
        return;
      }
      const r = await this.deps.blobs.sweepBlobs(items, { olderThan: cutoff });
      report.deleteBatches++;
      report.blobs.unlinked += r.unlinked;
      report.blobs.skipped += r.skipped.length;
      const skipped = new Set(r.skipped);
      for (const it of items) if (!skipped.has(it.digest)) unlinkedFrom.set(it.digest, new Set(it.unlinkFrom));
      for (const b of r.deleted) this.countDeleted(report, b.digest, b.size, goneData);
    };
    let cursor: string | undefined;
    do {
      const page = await this.deps.blobs.listBlobs(cursor);
      cursor = page.cursor;
      for (const b of page.items) {
        report.blobs.scanned++;
        sizes.set(b.digest, b.size);
        // Touched since the cutoff (or never stamped): the sweep would skip it anyway.
        if (b.touched === undefined || b.touched >= cutoff) {
          if (b.touched === undefined && !dryRun && !marked.reachable.has(b.digest))
            batch.push({ digest: b.digest, unlinkFrom: [], deleteData: false });
          continue;
        }
        const repos = linksOf.get(b.digest) ?? [];
        if (marked.reachable.has(b.digest)) {
          const stale = repos.filter((n) => !marked.reachableIn.get(n)?.has(b.digest));
          if (stale.length) batch.push({ digest: b.digest, unlinkFrom: stale, deleteData: false });
        } else {
          batch.push({ digest: b.digest, unlinkFrom: repos, deleteData: true });
        }
        if (batch.length >= this.settings.batchSize) await flush();
      }
    } while (cursor);
    await flush();

    // Manifest records (bytes in Redis and storage) that no repository keeps any more.
    cursor = undefined;
    let records: Digest[] = [];
    const purge = async () => {
      if (!records.length) return;
      const ds = records;
      records = [];
      if (dryRun) {
        report.manifests.recordsPurged += ds.length;
        return;
      }
      const purged = await this.deps.manifests.purgeManifestData(ds, { olderThan: cutoff });
      report.manifests.recordsPurged += purged.length;
      for (const p of purged) report.manifests.bytesFreed += p.size;
    };
    do {
      const page = await this.deps.manifests.listManifestData(cursor);
      cursor = page.cursor;
      for (const m of page.items) {
        if (marked.reachable.has(m.digest)) continue;
        if (dryRun && (m.touched === undefined || m.touched >= cutoff)) continue;
        if (dryRun) report.manifests.bytesFreed += m.size;
        records.push(m.digest);
        if (records.length >= this.settings.batchSize) await purge();
      }
    } while (cursor);
    await purge();

    progress('uploads');
    const uploads = await this.deps.blobs.purgeUploads({ olderThan: t0 - uploadMaxAgeSeconds * 1000, dryRun });
    report.uploads = { sessions: uploads.sessions, bytesFreed: uploads.bytes, multipartAborted: uploads.multipartAborted };

    let containerUsage: Record<string, Record<string, number>> = {};
    let released: string[] = [];
    if (this.deps.containers) {
      progress('containers');
      const { usage, unreferenced, ...c } = await this.deps.containers.collect({
        olderThan: cutoff,
        tmpOlderThan: t0 - uploadMaxAgeSeconds * 1000,
        dryRun,
      });
      report.containers = c;
      containerUsage = usage;
      // Bytes equal to a blob's stay counted for the blob (usage errs high, never low).
      released = unreferenced.filter((d) => !sizes.has(d as Digest));
    }

    if (!dryRun) {
      progress('quotas');
      report.quotas = await this.recount(names, remaining, linksByRepo, unlinkedFrom, goneData, sizes, containerUsage, released);
    }
    report.bytesFreed =
      report.blobs.bytesFreed + report.manifests.bytesFreed + report.uploads.bytesFreed + (report.containers?.content.bytesFreed ?? 0);
    report.durationMs = Date.now() - started;
    this.deps.metrics?.gcRuns.inc({ mode: dryRun ? 'dry-run' : 'sweep' });
    if (!dryRun) this.deps.metrics?.gcBytesFreed.inc(report.bytesFreed);
    this.logger.log(
      `${dryRun ? 'dry run' : 'run'}: ${report.blobs.deleted} blobs, ${report.manifests.deleted} manifests, ${report.retention.tagsDeleted} tags, ` +
        `${report.uploads.sessions} uploads, ${report.bytesFreed} bytes in ${report.durationMs} ms`,
    );
    return report;
  }

  private countDeleted(report: GcReport, digest: Digest, size: number, gone: Set<Digest>): void {
    report.blobs.deleted++;
    report.blobs.bytesFreed += size;
    gone.add(digest);
    push(report.blobs.digests, digest);
  }

  /** Delete the tags retention rules drop (a dry run only reports them); returns them by repository. */
  private async applyRetention(
    repos: RepositoryManifests[],
    now: number,
    dryRun: boolean,
    report: GcReport,
  ): Promise<Map<string, Set<string>>> {
    const rules = await this.deps.retention.list();
    const dropped = new Map<string, Set<string>>();
    if (!rules.length) return dropped;
    for (const repo of repos) {
      const rule = ruleFor(rules, repo.name);
      if (!rule) continue;
      const tags = repo.manifests.flatMap((m: ManifestRecord) => m.tags);
      const drop = tagsToDrop(tags, rule, now);
      for (const tag of drop) {
        if (!dryRun) {
          try {
            await this.deps.metadata.deleteTag(repo.name, tag);
          } catch (e) {
            if (e instanceof RegistryError && e.code === 'MANIFEST_UNKNOWN') continue;
            throw e;
          }
        }
        report.retention.tagsDeleted++;
        push(report.retention.tags, { repository: repo.name, tag });
      }
      if (drop.length) dropped.set(repo.name, new Set(drop));
    }
    return dropped;
  }

  /** Usage per namespace from what the run left: each digest once, linked blobs and kept manifests. */
  private async recount(
    names: string[],
    remaining: RepositoryManifests[],
    linksByRepo: Map<string, Digest[]>,
    unlinkedFrom: Map<Digest, Set<string>>,
    goneData: Set<Digest>,
    sizes: Map<Digest, number>,
    containerUsage: Record<string, Record<string, number>>,
    released: string[],
  ): Promise<Record<string, number>> {
    const byNs = new Map<string, Map<string, number>>();
    const add = (name: string, d: Digest) => {
      const ns = namespaceOf(name);
      const m = byNs.get(ns) ?? new Map<string, number>();
      m.set(d, sizes.get(d) ?? 0);
      byNs.set(ns, m);
    };
    for (const name of names) {
      if (!byNs.has(namespaceOf(name))) byNs.set(namespaceOf(name), new Map());
      for (const d of linksByRepo.get(name) ?? []) if (!goneData.has(d) && !unlinkedFrom.get(d)?.has(name)) add(name, d);
    }
    for (const r of remaining) for (const m of r.manifests) add(r.name, m.digest);
    // Containers' files count against their owner's namespace.
    for (const [ns, files] of Object.entries(containerUsage)) {
      const m = byNs.get(ns) ?? new Map<string, number>();
      for (const [d, size] of Object.entries(files)) m.set(d, size);
      byNs.set(ns, m);
    }
    const out: Record<string, number> = {};
    for (const [ns, m] of byNs) out[ns] = await this.deps.quotas.recount(ns, m);
    // Namespaces counted but reached neither through the catalog nor a container (blobs pushed and
    // no manifest yet, or a removed container's files): what is gone everywhere is uncounted.
    const rest = new Set([...(await this.deps.quotas.list()).map((q) => q.namespace), ...(await this.deps.quotas.counted())]);
    for (const ns of rest) if (!byNs.has(ns)) out[ns] = await this.deps.quotas.forget(ns, [...goneData, ...released]);
    return out;
  }
}
