// Save and load as BullMQ jobs (queues `export` and `import`): typed payloads and results, where
// their bytes live in storage, and how a job's state is reported to clients.
import type { Job, Queue } from 'bullmq';
import { RegistryError, parseLocalReference } from '@stevedore/oci';
import { findJob, jobStatusOf, type JobStatus, type OwnedResource } from '@stevedore/platform';

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

export { ImageJobPaths } from './image-layout';

/** Finished jobs stay queryable this long; their archives are removed with them by DELETE. */
export const JOB_RETENTION_SECONDS = 7 * 24 * 3600;

/** An export or import job as its routes answer (the common job status, with links to its archive). */
export type ImageJobStatus<P, R, K extends 'export' | 'import' = 'export' | 'import'> = JobStatus<K, P, R> & {
  links?: Record<string, string>;
};

/** A missing export or import job; one the caller may not see answers exactly the same. */
export function imageJobNotFound(kind: 'export' | 'import', id: unknown): RegistryError {
  const shown = String(id).slice(0, 64);
  return new RegistryError('NOT_FOUND', `${kind} job ${shown} not found`, { id: shown });
}

/** A job's owner and the repositories it reads or writes, for the access policy. */
export async function ownedJob(queue: Queue, id: string): Promise<OwnedResource | undefined> {
  const found = await findJob(queue, id);
  if (!found) return undefined;
  const data = found.job.data as Partial<ExportJobData & ImportJobData>;
  const repositories = [
    ...new Set([
      ...(data.references ?? []).map((r) => parseLocalReference(r).name),
      ...(data.repository ? [parseLocalReference(data.repository).name] : []),
    ]),
  ];
  return { owner: data.owner, repositories, writes: [] };
}

export async function jobStatus<P, R, K extends 'export' | 'import' = 'export' | 'import'>(
  queue: Queue,
  kind: K,
  id: string,
): Promise<{ status: ImageJobStatus<P, R, K>; job: Job }> {
  const found = await findJob(queue, id);
  if (!found) throw imageJobNotFound(kind, id);
  return { status: jobStatusOf<K, P, R>(kind, found.job, found.state), job: found.job };
}

export type ExportJobStatus = ImageJobStatus<ExportProgress, ExportResult, 'export'>;
export type ImportJobStatus = ImageJobStatus<LoadProgress, LoadReport, 'import'>;

declare module '@stevedore/platform' {
  interface JobTypes {
    export: { data: ExportJobData; result: ExportResult };
    import: { data: ImportJobData; result: LoadReport };
  }
}
