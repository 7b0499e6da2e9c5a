// A commit or batch job as clients see it: state, progress (files, bytes), result or error.
import type { Job, Queue } from 'bullmq';
import { parseJobFailure } from '@stevedore/images';
import { RegistryError, type ErrorBody } from '@stevedore/oci';
import { JOB_ID_RE, type BatchResult, type CommitProgress, type CommitResult } from './commit-job';

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

export async function jobView(queue: Queue, id: string): Promise<{ view: JobView; job: Job }> {
  const valid = typeof id === 'string' && JOB_ID_RE.test(id);
  // State first: a job read before it finished could show 'failed' without its reason.
  const state = (valid ? await queue.getJobState(id) : 'unknown') as JobState;
  const job = valid && state !== 'unknown' ? await queue.getJob(id) : undefined;
  if (!job) throw new RegistryError('NOT_FOUND', `job ${String(id).slice(0, 64)} not found`, { id: String(id).slice(0, 64) });
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
