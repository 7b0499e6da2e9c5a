// GET /api/v1/jobs: every queue's jobs in one list (libs/commits serves it). Each kind keeps its own
// status route (the row's `links.self`); the list is the place to find a job whatever its kind.
import { z } from 'zod';
import { ErrorBodySchema, JobStateSchema } from './common';

/** What a job is: a queue's name, or `batch` for a batch of commits (queue `commit`). */
export const JobKindSchema = z.enum(['commit', 'batch', 'export', 'import', 'replicate', 'gc']);
export type JobKind = z.infer<typeof JobKindSchema>;
export const JOB_QUEUES = ['commit', 'export', 'import', 'replicate', 'gc'] as const;

/** Values given comma-separated (`state=active,waiting`) or as a repeated parameter, as one list. */
const commaList = (v: unknown): unknown =>
  typeof v === 'string'
    ? v.split(',').filter(Boolean)
    : Array.isArray(v)
      ? v.flatMap((s) => (typeof s === 'string' ? s.split(',') : [s]))
      : v;

export const ListJobsQuerySchema = z.object({
  /** Rows per page (default 100, at most 1000). */
  n: z
    .string()
    .regex(/^[1-9]\d{0,3}$/, '`n` must be a positive integer up to 1000')
    .refine((s) => Number(s) <= 1000, '`n` must be a positive integer up to 1000')
    .optional(),
  /** The cursor: the previous page's `next`. */
  last: z.string().max(200).optional(),
  state: z.preprocess(commaList, z.array(JobStateSchema).max(20)).optional().describe('states, comma-separated or repeated'),
  kind: z.preprocess(commaList, z.array(JobKindSchema).max(20)).optional().describe('kinds, comma-separated or repeated'),
  /** Admins: only this user's jobs (the default is every user's, as Harbor shows an admin). */
  owner: z.string().min(1).max(64).optional(),
});

export const JobSummarySchema = z.object({
  id: z.string(),
  kind: JobKindSchema,
  /** The BullMQ queue it is in. */
  queue: z.enum(JOB_QUEUES),
  state: JobStateSchema,
  /** Who asked; absent for jobs made with auth off, by a replication rule or the GC schedule. */
  owner: z.string().optional(),
  /** One line: what it does (`commit bh -> app:v1`, `save a:1 b:2`, `gc (dry run)`). */
  description: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  error: ErrorBodySchema.optional(),
  /** `self`: the kind's own status route. */
  links: z.object({ self: z.string() }),
});
export type JobSummary = z.infer<typeof JobSummarySchema>;

/** A page of jobs, newest first; `next` is the cursor (`?last=`) of the following page. */
export const JobListSchema = z.object({ items: z.array(JobSummarySchema), next: z.string().optional() });
