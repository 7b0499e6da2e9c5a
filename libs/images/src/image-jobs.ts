// Save and load as BullMQ jobs (queues `export` and `import`): typed payloads and results, where
// their bytes live in storage, and how a job's state is reported to clients.
import type { Job, Queue } from 'bullmq';
import { RegistryError, type ErrorBody, parseLocalReference } from '@stevedore/oci';
import type { OwnedResource } from '@stevedore/platform';

import type { ExportCompression, ExportProgress, ExportResult } from './archive-export';
import type { LoadProgress, LoadReport } from './archive-load';

export interface ExportJobData {
  references: string[];
  compression: ExportCompression;
  platform?: string;
  /** Who asked (only they, or an admin, may read or delete it). */
  owner?: string;
}

export interface ImportJobData {
  /** Storage key of the uploaded tarball (removed when the job ends). */
  upload: string;
  size: number;
  maxBytes: number;
  repository?: string;
  owner?: string;
}

export const ImageJobPaths = {
  exportArchive: (id: string) => `exports/${id}/archive`,
  importUpload: (id: string) => `imports/${id}/upload`,
} as const;

/** Finished jobs stay queryable this long; their archives are removed with them by DELETE. */
export const JOB_RETENTION_SECONDS = 7 * 24 * 3600;

export type JobState = 'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'prioritized' | 'waiting-children' | 'unknown';

export interface JobStatus<P, R> {
  id: string;
  kind: 'export' | 'import';
  state: JobState;
  progress: P | null;
  result?: R;
  error?: ErrorBody;
  createdAt: string;
  finishedAt?: string;
  links?: Record<string, string>;
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
      // fall through
    }
  }
  return { code: 'INTERNAL', message: reason.slice(0, 500) };
}

/** A missing export or import job; one the caller may not see answers exactly the same. */
export function imageJobNotFound(kind: 'export' | 'import', id: unknown): RegistryError {
  const shown = String(id).slice(0, 64);
  return new RegistryError('NOT_FOUND', `${kind} job ${shown} not found`, { id: shown });
}

/** A job's owner and the repositories it reads or writes, for the access policy. */
export async function ownedJob(queue: Queue, id: string): Promise<OwnedResource | undefined> {
  if (!id || !/^[A-Za-z0-9-]{1,64}$/.test(id)) return undefined;
  const job = await queue.getJob(id);
  if (!job) return undefined;
  const data = job.data as Partial<ExportJobData & ImportJobData>;
  const repositories = [...new Set([...(data.references ?? []).map((r) => parseLocalReference(r).name), ...(data.repository ? [parseLocalReference(data.repository).name] : [])])];
  return { owner: data.owner, repositories, writes: [] };
}

export async function jobStatus<P, R>(queue: Queue, kind: 'export' | 'import', id: string): Promise<{ status: JobStatus<P, R>; job: Job }> {
  const valid = !!id && /^[A-Za-z0-9-]{1,64}$/.test(id);
  // State first, then the job: a job read before it finished could show 'failed' without its reason.
  const state = (valid ? await queue.getJobState(id) : 'unknown') as JobState;
  const job = valid ? await queue.getJob(id) : undefined;
  if (!job || state === 'unknown') throw imageJobNotFound(kind, id);
  const status: JobStatus<P, R> = {
    id,
    kind,
    state,
    progress: (typeof job.progress === 'object' ? job.progress : null) as P | null,
    createdAt: new Date(job.timestamp).toISOString(),
  };
  if (job.finishedOn) status.finishedAt = new Date(job.finishedOn).toISOString();
  if (state === 'completed') status.result = job.returnvalue as R;
  if (state === 'failed') status.error = parseJobFailure(job.failedReason);
  return { status, job };
}

export type ExportJobStatus = JobStatus<ExportProgress, ExportResult>;
export type ImportJobStatus = JobStatus<LoadProgress, LoadReport>;
