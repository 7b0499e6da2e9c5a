// The repository index the web UI and `GET /api/v1/repositories` read: every repository of the
// catalog with when it was last pushed (tagged) and how often its manifests were pulled, searched
// by name (prefix or substring) and sorted by name, last push or pulls. Redis only, like every
// read here: the catalog zset and two more zsets (metadata-layout.ts). A page reads the three
// whole (10,000 repositories are some 0.5 MB and a few ms) and is cut by an offset cursor, so the
// caller can filter what it may see and still page stably.
import type Redis from 'ioredis';
import type { RedisKeys } from '@stevedore/platform';
import { metadataKeys, type MetadataKeys } from './metadata-layout';

export type RepositorySort = 'name' | 'pushed' | 'pulls';

export interface RepositoryRow {
  name: string;
  /** ms of the last tagging; null when unknown (never tagged since the index existed). */
  lastPush: number | null;
  pulls: number;
}

export interface RepositoryQuery {
  /** Case-insensitive: rows whose name contains it (those starting with it first when sorting by name). */
  q?: string;
  sort?: RepositorySort;
  /** Offset into the sorted, searched rows. */
  offset?: number;
  limit: number;
}

/** Pull counts are added up in memory and written once a second: a pull costs no round trip. */
const FLUSH_MS = 1000;

export class RepositoryIndex {
  private readonly k: MetadataKeys;
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    keys: RedisKeys,
  ) {
    this.k = metadataKeys(keys);
  }

  /** A tagging at `at` (ms): the later of it and what is there. */
  async pushed(name: string, at: number): Promise<void> {
    await this.redis.zadd(this.k.reposPushed(), 'GT', at, name);
  }

  /** Count one pull of `name` (written within FLUSH_MS). */
  pulled(name: string): void {
    this.pending.set(name, (this.pending.get(name) ?? 0) + 1);
    this.timer ??= setTimeout(() => void this.flush().catch(() => undefined), FLUSH_MS).unref();
  }

  /** Write the counted pulls now (also at shutdown). Counts that cannot be written are kept for the next flush. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const m = this.redis.pipeline();
    // One key: one slot, so one pipeline on a cluster too.
    for (const [name, n] of batch) m.zincrby(this.k.reposPulls(), n, name);
    const results = await m.exec().catch(() => null);
    if (!results || results.some(([e]) => e)) for (const [name, n] of batch) this.pending.set(name, (this.pending.get(name) ?? 0) + n);
  }

  /** How many tags each repository has, in the order given. */
  async tagCounts(names: string[]): Promise<number[]> {
    if (names.length === 0) return [];
    // One command per repository (a cluster pipeline must keep to one slot); auto-pipelining batches them.
    return (await Promise.all(names.map((name) => this.redis.hlen(this.k.tags(name))))).map((n) => Number(n ?? 0));
  }

  async rows(query: RepositoryQuery): Promise<{ rows: RepositoryRow[]; total: number; next?: number }> {
    // Three keys, three slots on a cluster: three commands (auto-pipelined), not one pipeline.
    const [names, pushed, pulls] = await Promise.all([
      this.redis.zrange(this.k.catalog(), '0', '-1'),
      this.redis.zrange(this.k.reposPushed(), '0', '-1', 'WITHSCORES'),
      this.redis.zrange(this.k.reposPulls(), '0', '-1', 'WITHSCORES'),
    ]);
    const scores = (flat: string[]) => {
      const m = new Map<string, number>();
      for (let i = 0; i < flat.length; i += 2) m.set(flat[i], Number(flat[i + 1]));
      return m;
    };
    const pushedAt = scores(pushed);
    const pullCount = scores(pulls);
    const q = query.q?.toLowerCase();
    let rows: RepositoryRow[] = (q ? names.filter((n) => n.toLowerCase().includes(q)) : names).map((name) => ({
      name,
      lastPush: pushedAt.get(name) ?? null,
      pulls: pullCount.get(name) ?? 0,
    }));
    const byName = (a: RepositoryRow, b: RepositoryRow) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    switch (query.sort ?? 'name') {
      case 'name':
        // The catalog is in byte order already; a search puts names that start with it first.
        if (q)
          rows = [...rows.filter((r) => r.name.toLowerCase().startsWith(q)), ...rows.filter((r) => !r.name.toLowerCase().startsWith(q))];
        break;
      case 'pushed':
        rows.sort((a, b) => (b.lastPush ?? -1) - (a.lastPush ?? -1) || byName(a, b));
        break;
      case 'pulls':
        rows.sort((a, b) => b.pulls - a.pulls || byName(a, b));
        break;
    }
    const offset = Math.max(0, query.offset ?? 0);
    const end = offset + query.limit;
    return { rows: rows.slice(offset, end), total: rows.length, ...(end < rows.length ? { next: end } : {}) };
  }
}

export const REPOSITORY_INDEX = Symbol('RepositoryIndex');

export function createRepositoryIndex(redis: Redis, keys: RedisKeys): RepositoryIndex {
  return new RepositoryIndex(redis, keys);
}
