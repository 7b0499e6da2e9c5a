// Garbage collection of container contents: the bytes under `containers/content/` that no
// container's read-write layer and no layer index refers to, the layer indexes no container uses,
// and temporary files a crashed put left. Runs where containers are hosted; libs/gc asks for it
// through ContainerGcService.
//
// Why it is safe against concurrent writers:
// - a content put is a writer of its digest (DigestGuard, family 'containers-gc'); a digest is
//   deleted only after one atomic script saw no writer and a stamp older than the run's cutoff and
//   set the sweep lease, so bytes being stored, or stored after the run began, stay;
// - a commit's snapshot stamps the digests it will read, so a file replaced meanwhile survives it;
// - an index is removed only when no container records its layer and its `used` stamp (set when
//   a container is created) is older than the cutoff, in one script with the removal from Redis;
//   the contents of every index that existed when the run began are kept in this run, and a later
//   run rebuilds from the layer itself any index a live container needs and storage lacks.
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { luaMayGo, type DigestGuard } from '@stevedore/blobs';
import type { Digest } from '@stevedore/oci';
import type { StorageDriver } from '@stevedore/storage';
import type { Entry } from '@stevedore/unionfs';
import { ContainerPaths, contentDigestOf, layerIndexDigestOf } from './container-layout';
import type { ContainerState } from './container';
import type { ContainerCollectOptions, ContainerCollectReport } from './container-service';
import type { LayerIndexKeys, LowerLayers } from './lower-layers';

// KEYS: used stamp, cached index (one slot: both carry the layer's {digest} hash tag). ARGV: cutoff.
// -2 first seen (stamped now), -3 used since the cutoff, 1 removed from Redis.
const DROP_INDEX = `
local t = redis.call('GET', KEYS[1])
if not t then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], now[1] * 1000 + math.floor(now[2] / 1000))
  return -2
end
if tonumber(t) >= tonumber(ARGV[1]) then return -3 end
redis.call('DEL', KEYS[2])
redis.call('DEL', KEYS[1])
return 1`;

// KEYS: touched, writing, sweeping of one content digest. ARGV: cutoff, lease seconds.
// -1 being written or swept, -2 first seen (stamped now), -3 touched since the cutoff, 1 leased.
const LEASE_CONTENT = `${luaMayGo({ touched: 1, writing: 2, sweeping: 3 })}
redis.call('SET', KEYS[3], '1', 'EX', ARGV[2])
return 1`;

const SWEEP_LEASE_SECONDS = 600;
const BATCH = 500;

export interface CollectorDeps {
  storage: StorageDriver;
  redis: Redis;
  guard: DigestGuard;
  lower: LowerLayers;
  layerKeys: LayerIndexKeys;
  /** Every container state storage holds (the durable records, not Redis' index of them). */
  states(): AsyncIterable<ContainerState>;
}

const digestsOf = (entries: Entry[]) => entries.flatMap((e) => (e.digest ? [e.digest] : []));

export class ContainerCollector {
  private readonly logger = new Logger('containers-gc');
  constructor(private readonly deps: CollectorDeps) {}

  async collect(options: ContainerCollectOptions): Promise<ContainerCollectReport> {
    const { storage, redis, guard, lower, layerKeys } = this.deps;
    const dryRun = options.dryRun ?? false;
    const report: ContainerCollectReport = {
      containers: 0,
      layerIndexes: { scanned: 0, deleted: 0, rebuilt: 0 },
      content: { scanned: 0, deleted: 0, skipped: 0, bytesFreed: 0 },
      tmpFiles: 0,
      usage: {},
      unreferenced: [],
    };
    const marked = new Set<Digest>();
    // Layers live containers stand on, with a repository each can be read from again.
    const inUse = new Map<Digest, string>();
    for await (const s of this.deps.states()) {
      report.containers++;
      for (const d of s.record.image.layers) inUse.set(d, s.record.image.repository);
      for (const e of s.entries) {
        if (!e.digest) continue;
        marked.add(e.digest);
        if (s.record.owner && e.type === 'file') (report.usage[s.record.owner] ??= {})[e.digest] = e.size ?? 0;
      }
    }

    const indexes = new Set<Digest>();
    for await (const f of storage.list(ContainerPaths.layersRoot)) {
      const d = layerIndexDigestOf(f.path);
      if (d) indexes.add(d);
    }
    report.layerIndexes.scanned = indexes.size;
    // A live container's index that storage lost (removed by an earlier run while a replica still
    // held it in memory): rebuilt from the layer, which stores its contents again with fresh stamps.
    for (const [d, repository] of inUse) {
      if (indexes.has(d) || dryRun) continue;
      try {
        await lower.rebuild(repository, d);
        indexes.add(d);
        report.layerIndexes.rebuilt++;
      } catch (e) {
        this.logger.warn(`cannot rebuild the index of layer ${d} (${repository}): ${(e as Error).message}`);
      }
    }
    // Every index that exists now keeps its contents in this run, even one removed below.
    for (const d of indexes) {
      const json = await storage.getContent(ContainerPaths.layerIndex(d)).catch(() => undefined);
      if (json) for (const c of digestsOf(JSON.parse(json.toString()) as Entry[])) marked.add(c);
    }
    let dropped = false;
    for (const d of indexes) {
      if (inUse.has(d)) continue;
      if (dryRun) {
        const t = await redis.get(layerKeys.used(d));
        if (t !== null && Number(t) < options.olderThan) report.layerIndexes.deleted++;
        continue;
      }
      const r = (await redis.eval(DROP_INDEX, 2, layerKeys.used(d), layerKeys.cache(d), options.olderThan)) as number;
      if (r !== 1) continue;
      await storage.delete(ContainerPaths.layerIndex(d));
      report.layerIndexes.deleted++;
      dropped = true;
    }
    if (dropped) lower.forget();

    let batch: Array<{ digest: Digest; path: string; size: number }> = [];
    const sweep = async () => {
      const items = batch;
      batch = [];
      if (!items.length) return;
      if (dryRun) {
        // One GET per digest (each its own slot on a cluster), sent together by auto-pipelining.
        const stamps = await Promise.all(items.map((i) => redis.get(guard.touchedKey(i.digest))));
        items.forEach((it, i) => {
          if (stamps[i] !== null && Number(stamps[i]) < options.olderThan) {
            report.content.deleted++;
            report.content.bytesFreed += it.size;
          } else report.content.skipped++;
        });
        return;
      }
      // One script per digest (its three keys share its slot), not a pipeline: on a cluster a pipeline
      // must keep to one slot. Auto-pipelining still sends them together.
      const out = await Promise.all(
        items.map((it) => redis.eval(LEASE_CONTENT, 3, ...guard.mayGoKeys(it.digest), options.olderThan, SWEEP_LEASE_SECONDS)),
      );
      const leased = items.filter((_, i) => out[i] === 1);
      report.content.skipped += items.length - leased.length;
      if (!leased.length) return;
      try {
        await storage.deleteMany(leased.map((it) => it.path));
        report.content.deleted += leased.length;
        for (const it of leased) report.content.bytesFreed += it.size;
      } finally {
        // A DEL per digest: its two keys share its slot; different digests do not.
        await Promise.all(leased.map((it) => redis.del(guard.sweepingKey(it.digest), guard.touchedKey(it.digest))));
      }
    };
    for await (const f of storage.list(ContainerPaths.contentRoot)) {
      const d = contentDigestOf(f.path);
      if (!d) continue;
      report.content.scanned++;
      if (marked.has(d)) continue;
      report.unreferenced.push(d);
      batch.push({ digest: d, path: f.path, size: f.size });
      if (batch.length >= BATCH) await sweep();
    }
    await sweep();

    // A put's temporary file outlives it only when the process died mid-put.
    const stale: string[] = [];
    for await (const f of storage.list(ContainerPaths.tmpRoot)) {
      if (f.path === ContainerPaths.tmpKeep || f.modTime.getTime() >= options.tmpOlderThan) continue;
      stale.push(f.path);
    }
    report.tmpFiles = stale.length;
    if (!dryRun && stale.length) await storage.deleteMany(stale);
    return report;
  }
}
