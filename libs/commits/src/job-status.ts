// A commit or batch job as clients see it: state, progress (files, bytes), result or error.
import type { Job, Queue } from 'bullmq';
import { RegistryError, parseLocalReference } from '@stevedore/oci';
import { TERMINAL_STATES, findJob, jobStatusOf, type JobStatus, type OwnedResource } from '@stevedore/platform';
import { JOB_ID_RE, type BatchJobData, type BatchResult, type CommitJobData, type CommitProgress, type CommitResult } from './commit-job';

/** A commit or batch job as clients see it: the common job status, a batch's children, links. */
export type JobView = JobStatus<'commit' | 'batch', CommitProgress, CommitResult | BatchResult> & {
  /** A batch's children by state, while it runs. */
  children?: Record<string, number>;
  links: { self: string; events: string };
};

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
  if (d.kind === 'commit')
    return { owner: d.owner, repositories: [...new Set([d.image.repository, d.target.repository])], writes: [d.target.repository] };
  const targets = [...new Set(d.children.map((c) => parseLocalReference(c.reference).name))];
  return { owner: d.owner, repositories: targets, writes: targets };
}

export async function jobView(queue: Queue, id: string): Promise<{ view: JobView; job: Job }> {
  const found = typeof id === 'string' && JOB_ID_RE.test(id) ? await findJob(queue, id) : undefined;
  if (!found) throw jobNotFound(id);
  const { job, state } = found;
  const kind = id.startsWith('batch-') ? 'batch' : 'commit';
  const view: JobView = {
    ...jobStatusOf<'commit' | 'batch', CommitProgress, CommitResult | BatchResult>(kind, job, state),
    links: { self: `/api/v1/jobs/${id}`, events: `/api/v1/jobs/${id}/events` },
  };
  if (view.kind === 'batch' && !TERMINAL_STATES.has(state)) {
    const c = await job.getDependenciesCount({ processed: true, unprocessed: true, ignored: true, failed: true });
    view.children = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Number(v)]));
  }
  return { view, job };
}
