// Jobs in one place: which payload and result each queue's jobs carry (JobTypes, which each domain
// lib extends by declaration merging, so a queue and its worker cannot disagree), how a failure is
// kept (jobFailure, as a RegistryError's body) and read back, and the one status shape every job
// route answers with (commit, batch, export, import, replicate, gc).
import type { Job, Queue } from 'bullmq';
import type { JobState } from '@stevedore/api-contract';
import { RegistryError, type ErrorBody } from '@stevedore/oci';

/**
 * Queue name -> { data, result }. Empty here; each lib that owns a queue declares its entry:
 *   declare module '@stevedore/platform' { interface JobTypes { gc: { data: GcRunRequest; result: GcReport } } }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface, @typescript-eslint/no-empty-object-type -- filled by declaration merging
export interface JobTypes {}

// The states as the API contract names them (BullMQ's).
export type { JobState } from '@stevedore/api-contract';

export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['completed', 'failed']);

/** What every job route answers: the kind's own fields come on top (links, children, request). */
export interface JobStatus<K extends string = string, P = unknown, R = unknown> {
  id: string;
  kind: K;
  state: JobState;
  progress: P | null;
  result?: R;
  error?: ErrorBody;
  /** Attempts made so far (jobs with retries back off exponentially). */
  attempts: number;
  createdAt: string;
  finishedAt?: string;
}

const ERROR_MARK = 'stevedore-error:';

/** A job's failure as BullMQ keeps it (a string): the RegistryError's body, tagged to parse back. */
export function jobFailure(e: unknown): string {
  const err = RegistryError.is(e) ? e : new RegistryError('INTERNAL', (e as Error)?.message ?? String(e));
  return ERROR_MARK + JSON.stringify(err.toJSON());
}

export function parseJobFailure(reason: string | undefined): ErrorBody | undefined {
  if (!reason) return undefined;
  if (reason.startsWith(ERROR_MARK)) {
    try {
      return JSON.parse(reason.slice(ERROR_MARK.length)) as ErrorBody;
    } catch {
      // fall through: shown as it is
    }
  }
  return { code: 'INTERNAL', message: reason.slice(0, 500) };
}

/** A job id as the routes accept it (BullMQ ids here are uuids, batch-<uuid>, rule-<hash> or numbers). */
export const JOB_ID_PATTERN = /^[A-Za-z0-9-]{1,80}$/;

/**
 * A job and its state, or undefined when there is none (or the id is not one). State first, then
 * the job: a job read before it finished could show 'failed' without its reason.
 */
export async function findJob<D, R>(queue: Queue<D, R>, id: unknown): Promise<{ job: Job<D, R>; state: JobState } | undefined> {
  if (typeof id !== 'string' || !JOB_ID_PATTERN.test(id)) return undefined;
  const state = (await queue.getJobState(id)) as JobState;
  if (state === 'unknown') return undefined;
  const job = (await queue.getJob(id)) as Job<D, R> | undefined;
  return job ? { job, state } : undefined;
}

/** The common status of a job in a known state. */
export function jobStatusOf<K extends string, P, R>(kind: K, job: Job<unknown, R>, state: JobState): JobStatus<K, P, R> {
  const status: JobStatus<K, P, R> = {
    id: String(job.id),
    kind,
    state,
    progress: (job.progress !== null && typeof job.progress === 'object' ? job.progress : null) as P | null,
    attempts: job.attemptsMade,
    createdAt: new Date(job.timestamp).toISOString(),
  };
  if (job.finishedOn) status.finishedAt = new Date(job.finishedOn).toISOString();
  if (state === 'completed') status.result = job.returnvalue;
  if (state === 'failed') status.error = parseJobFailure(job.failedReason);
  return status;
}
