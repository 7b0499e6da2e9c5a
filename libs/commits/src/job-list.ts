// GET /api/v1/jobs: the jobs of every queue (commit, export, import, replicate, gc) as one list,
// newest first, with a one-line description of each. The queues are read here by name (QueueNames),
// and each kind's payload only for what the row shows: who asked, what it does, which repositories
// it touches (a robot or token sees a job of its owner only with pull on those, as for containers).
// Replications and GC runs have no owner (admins start them, or a rule or the schedule does): only
// admins see them. The list is a scan of what the queues keep (their retention bounds it).
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, JobType, Queue } from 'bullmq';
import type { JobKind, JobState, JobSummary } from '@stevedore/api-contract';
import { parseLocalReference } from '@stevedore/oci';
import { CONFIG, QueueNames, closeBullmq, createQueue, parseJobFailure, type QueueName, type StevedoreConfig } from '@stevedore/platform';
import { CommitQueues } from './commit-queues';

/**
 * The queues listed here. The consistency pass's runs are not jobs anyone follows by id: admins
 * list them at GET /api/v1/admin/consistency/runs (libs/gc).
 */
type ListedQueue = Exclude<QueueName, 'consistency'>;

/** A row before the access check: the summary and the repositories a robot needs pull on to see it. */
export interface JobRow {
  summary: JobSummary;
  repositories: string[];
  timestamp: number;
}

export interface JobListQuery {
  n?: string;
  last?: string;
  state?: JobState[];
  kind?: JobKind[];
  owner?: string;
}

const STATES: JobState[] = ['active', 'waiting', 'prioritized', 'delayed', 'waiting-children', 'completed', 'failed'];
export const DEFAULT_PAGE = 100;

type Data = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const rec = (v: unknown): Data => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Data) : {});
const clip = (s: string, max = 120) => (s.length > max ? s.slice(0, max - 1) + '…' : s);
const repoOf = (ref: string): string[] => {
  try {
    return [parseLocalReference(ref).name];
  } catch {
    return [];
  }
};

/** What a job is and does, from its queue and payload. */
export function describeJob(
  queue: ListedQueue,
  data: unknown,
): { kind: JobKind; description: string; owner?: string; repositories: string[] } {
  const d = rec(data);
  const owner = str(d['owner']);
  const base = owner ? { owner } : {};
  switch (queue) {
    case 'commit': {
      if (d['kind'] === 'batch') {
        const children = Array.isArray(d['children']) ? (d['children'] as unknown[]).map(rec) : [];
        const refs = children.map((c) => str(c['reference'])).filter((r): r is string => !!r);
        return {
          kind: 'batch',
          description: `batch of ${Number(d['count'] ?? children.length)} commits`,
          ...base,
          repositories: [...new Set(refs.flatMap(repoOf))],
        };
      }
      const spec = rec(d['spec']);
      const target = rec(d['target']);
      const image = rec(d['image']);
      const to = `${str(target['repository']) ?? '?'}:${str(target['tag']) ?? 'latest'}`;
      const repos = [str(image['repository']), str(target['repository'])].filter((r): r is string => !!r);
      return {
        kind: 'commit',
        description: clip(`commit ${str(spec['container']) ?? '?'} -> ${to}`),
        ...base,
        repositories: [...new Set(repos)],
      };
    }
    case 'export': {
      const refs = Array.isArray(d['references']) ? (d['references'] as unknown[]).filter((r): r is string => typeof r === 'string') : [];
      return { kind: 'export', description: clip(`save ${refs.join(' ')}`), ...base, repositories: [...new Set(refs.flatMap(repoOf))] };
    }
    case 'import': {
      const repo = str(d['repository']);
      return { kind: 'import', description: clip(repo ? `load into ${repo}` : 'load'), ...base, repositories: repo ? repoOf(repo) : [] };
    }
    case 'replicate': {
      const source = rec(d['source']);
      const target = rec(d['target']);
      const from = `${str(source['name']) ?? '?'}${str(source['tag']) ? `:${str(source['tag'])}` : str(source['digest']) ? `@${str(source['digest'])!.slice(0, 19)}` : ''}`;
      const to = `${str(target['upstream']) ?? '?'}/${str(target['name']) ?? '?'}${str(target['tag']) ? `:${str(target['tag'])}` : ''}`;
      const rule = str(d['rule']);
      return { kind: 'replicate', description: clip(`push ${from} -> ${to}${rule ? ` (rule ${rule})` : ''}`), ...base, repositories: [] };
    }
    case 'gc': {
      const flags = [d['dryRun'] === true ? 'dry run' : '', d['scheduled'] === true ? 'scheduled' : ''].filter(Boolean);
      return { kind: 'gc', description: `gc${flags.length ? ` (${flags.join(', ')})` : ''}`, ...base, repositories: [] };
    }
  }
}

/** The kind's own status route. */
export function jobLink(kind: JobKind, id: string): string {
  const e = encodeURIComponent(id);
  switch (kind) {
    case 'commit':
    case 'batch':
      return `/api/v1/jobs/${e}`;
    case 'export':
      return `/api/v1/exports/${e}`;
    case 'import':
      return `/api/v1/imports/${e}`;
    case 'replicate':
      return `/api/v1/replications/${e}`;
    case 'gc':
      return `/api/v1/gc/runs/${e}`;
  }
}

export function rowOf(queue: ListedQueue, job: Job, state: JobState): JobRow {
  const id = String(job.id);
  const d = describeJob(queue, job.data);
  const summary: JobSummary = {
    id,
    kind: d.kind,
    queue,
    state,
    description: d.description,
    createdAt: new Date(job.timestamp).toISOString(),
    links: { self: jobLink(d.kind, id) },
  };
  if (d.owner) summary.owner = d.owner;
  if (job.finishedOn) summary.finishedAt = new Date(job.finishedOn).toISOString();
  if (state === 'failed') {
    const error = parseJobFailure(job.failedReason);
    if (error) summary.error = error;
  }
  return { summary, repositories: d.repositories, timestamp: job.timestamp };
}

/** The cursor of a row: newest first, then by queue and id, so pages never skip or repeat a row. */
export function cursorOf(r: JobRow): string {
  return `${r.timestamp}~${r.summary.queue}~${r.summary.id}`;
}

/** Newest first; among jobs of the same millisecond, by queue then id. */
export function compareRows(
  a: { timestamp: number; queue: string; id: string },
  b: { timestamp: number; queue: string; id: string },
): number {
  return b.timestamp - a.timestamp || a.queue.localeCompare(b.queue) || a.id.localeCompare(b.id);
}

function parseCursor(last: string): { timestamp: number; queue: string; id: string } | undefined {
  // Any id: a repeatable job's (the GC schedule's next run) is `repeat:<scheduler>:<millis>`.
  const m = /^(\d{1,16})~([a-z]+)~(.{1,180})$/.exec(last);
  return m ? { timestamp: Number(m[1]), queue: m[2], id: m[3] } : undefined;
}

/** One page of `rows` (sorted with compareRows) after the cursor `last`, and the next cursor. */
export function pageOf(rows: JobRow[], n: number, last?: string): { items: JobSummary[]; next?: string } {
  const after = last ? parseCursor(last) : undefined;
  const rest = after
    ? rows.filter((r) => compareRows(after, { timestamp: r.timestamp, queue: r.summary.queue, id: r.summary.id }) < 0)
    : rows;
  const page = rest.slice(0, n);
  const out: { items: JobSummary[]; next?: string } = { items: page.map((r) => r.summary) };
  if (rest.length > n) out.next = cursorOf(page[page.length - 1]);
  return out;
}

@Injectable()
export class JobList implements OnApplicationShutdown {
  private readonly others: Array<[ListedQueue, Queue]>;

  constructor(
    @Inject(CONFIG) config: StevedoreConfig,
    private readonly commits: CommitQueues,
  ) {
    this.others = ([QueueNames.export, QueueNames.import, QueueNames.replicate, QueueNames.gc] as ListedQueue[]).map((n) => [
      n,
      createQueue(config, n) as unknown as Queue,
    ]);
  }

  private queues(): Array<[ListedQueue, Queue]> {
    return [[QueueNames.commit, this.commits.queue as unknown as Queue], ...this.others];
  }

  /** Every job the queues keep in the given states (all when none), sorted newest first. */
  async rows(filter: { state?: JobState[]; kind?: JobKind[]; owner?: string } = {}): Promise<JobRow[]> {
    const states = filter.state?.length ? STATES.filter((s) => filter.state!.includes(s)) : STATES;
    const kinds = filter.kind?.length ? new Set(filter.kind) : undefined;
    const out: JobRow[] = [];
    const seen = new Set<string>();
    await Promise.all(
      this.queues().map(async ([name, queue]) => {
        if (kinds && !(name === 'commit' ? kinds.has('commit') || kinds.has('batch') : kinds.has(name as JobKind))) return;
        for (const state of states) {
          // One state at a time: getJobs does not say which state each job it returns is in.
          const jobs = await queue.getJobs([state as JobType], 0, -1);
          for (const job of jobs) {
            if (!job?.id || seen.has(`${name}/${job.id}`)) continue;
            seen.add(`${name}/${job.id}`);
            const row = rowOf(name, job, state);
            if (kinds && !kinds.has(row.summary.kind)) continue;
            if (filter.owner && row.summary.owner !== filter.owner) continue;
            out.push(row);
          }
        }
      }),
    );
    return out.sort((a, b) =>
      compareRows(
        { timestamp: a.timestamp, queue: a.summary.queue, id: a.summary.id },
        { timestamp: b.timestamp, queue: b.summary.queue, id: b.summary.id },
      ),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.others.map(([, q]) => closeBullmq(q, 1500)));
  }
}
