// A commit or batch job as clients see it: state, progress (files, bytes), result or error.
import type { Job, Queue } from 'bullmq';
import { parseJobFailure } from '@stevedore/images';
import { RegistryError, type ErrorBody, parseLocalReference } from '@stevedore/oci';
import type { OwnedResource } from '@stevedore/platform';
import { JOB_ID_RE, type BatchJobData, type BatchResult, type CommitJobData, type CommitProgress, type CommitResult } from './commit-job';

export type JobState = 'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'prioritized' | 'waiting-children' | 'unknown';

export interface JobView {
  id: string;
  kind: 'commit' | 'batch';
  state: JobState;
  progress: CommitProgress | null;
  result?: CommitResult | BatchResult;
  error?: ErrorBody;
  /** Attempts made so far (retries with exponential backoff). */
  attempts: number;
  createdAt: string;
  finishedAt?: string;
  /** A batch's children by state, while it runs. */
  children?: Record<string, number>;
  links: { self: string; events: string };
}

export const TERMINAL: ReadonlySet<JobState> = new Set(['completed', 'failed']);

/** A missing commit or batch job; one the caller may not see answers exactly the same. */
export function jobNotFound(id: unknown): RegistryError {
  const shown = String(id).slice(0, 64);
  return new RegistryError('NOT_FOUND', `job ${shown} not found`, { id: shown });
}

/** A commit or batch job's owner and repositories (its image's and its targets), for the access policy. */
export async function ownedCommitJob(queue: Queue, id: string): Promise<OwnedResource | undefined> {
  if (typeof id !== 'string' || !JOB_ID_RE.test(id)) return undefined;
  const job = await queue.getJob(id);
  if (!job) return undefined;
  const d = job.data as CommitJobData | BatchJobData;
  if (d.kind === 'commit') return { owner: d.owner, repositories: [...new Set([d.image.repository, d.target.repository])], writes: [d.target.repository] };
  const targets = [...new Set(d.children.map((c) => parseLocalReference(c.reference).name))];
  return { owner: d.owner, repositories: targets, writes: targets };
}

export async function jobView(queue: Queue, id: string): Promise<{ view: JobView; job: Job }> {
  const valid = typeof id === 'string' && JOB_ID_RE.test(id);
  // State first: a job read before it finished could show 'failed' without its reason.
  const state = (valid ? await queue.getJobState(id) : 'unknown') as JobState;
  const job = valid && state !== 'unknown' ? await queue.getJob(id) : undefined;
  if (!job) throw jobNotFound(id);
  const view: JobView = {
    id,
    kind: id.startsWith('batch-') ? 'batch' : 'commit',
    state,
    progress: (typeof job.progress === 'object' ? job.progress : null) as CommitProgress | null,
    attempts: job.attemptsMade,
    createdAt: new Date(job.timestamp).toISOString(),
    links: { self: `/api/v1/jobs/${id}`, events: `/api/v1/jobs/${id}/events` },
  };
  if (job.finishedOn) view.finishedAt = new Date(job.finishedOn).toISOString();
  if (state === 'completed') view.result = job.returnvalue as CommitResult | BatchResult;
  if (state === 'failed') view.error = parseJobFailure(job.failedReason);
  if (view.kind === 'batch' && !TERMINAL.has(state)) {
    const c = await job.getDependenciesCount({ processed: true, unprocessed: true, ignored: true, failed: true });
    view.children = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Number(v)]));
  }
  return { view, job };
}
