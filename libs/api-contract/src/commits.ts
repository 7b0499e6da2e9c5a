// /api/v1/commits, /api/v1/commits:batch and /api/v1/jobs (libs/commits).
import { z } from 'zod';
import { DigestSchema, ErrorBodySchema, jobStatusSchema } from './common';

export const CommitSpecSchema = z.object({
  container: z.string().min(1).max(80),
  /** `repository[:tag]`; the tag defaults to `latest`. */
  reference: z.string().min(1).max(600),
  author: z.string().max(1000).optional(),
  message: z.string().max(10_000).optional(),
  changes: z.array(z.string().max(10_000)).max(100).default([]),
  pause: z.boolean().default(true),
});
/** A commit as the server holds it (defaults applied). */
export type CommitSpec = z.output<typeof CommitSpecSchema>;
/** A commit as a client asks for it (defaults optional). */
export type CommitRequest = z.input<typeof CommitSpecSchema>;

export const BatchRequestSchema = z.object({ commits: z.array(CommitSpecSchema).min(1).max(1000) });

export const CommitProgressSchema = z.object({
  phase: z.enum(['queued', 'layer', 'config', 'manifest', 'tag', 'done']),
  files: z.number(),
  totalFiles: z.number(),
  bytes: z.number(),
  totalBytes: z.number(),
});

export const CommitResultSchema = z.object({
  reference: z.string(),
  repository: z.string(),
  tag: z.string(),
  /** The image (manifest) digest. */
  digest: DigestSchema,
  configDigest: DigestSchema,
  /** The new layer; absent when the read-write layer was empty. */
  layer: z.object({ digest: DigestSchema, diffId: DigestSchema, size: z.number(), uncompressedSize: z.number() }).optional(),
  files: z.number(),
  bytes: z.number(),
});
export type CommitResult = z.infer<typeof CommitResultSchema>;

export const BatchItemSchema = z.object({
  id: z.string(),
  reference: z.string(),
  digest: DigestSchema.optional(),
  error: ErrorBodySchema.optional(),
});
export const BatchResultSchema = z.object({
  total: z.number(),
  succeeded: z.number(),
  failed: z.number(),
  items: z.array(BatchItemSchema),
});
export type BatchResult = z.infer<typeof BatchResultSchema>;

const jobLinks = z.object({ self: z.string(), events: z.string() });

/** A commit or batch job: the common status, a batch's children by state while it runs, links. */
export const CommitJobSchema = jobStatusSchema(
  z.enum(['commit', 'batch']),
  CommitProgressSchema,
  z.union([CommitResultSchema, BatchResultSchema]),
).extend({
  children: z.record(z.string(), z.number()).optional(),
  links: jobLinks,
});
export type CommitJob = z.infer<typeof CommitJobSchema>;

/** A queued batch: its job id and its children's job ids. */
export const BatchSubmittedSchema = z.object({ id: z.string(), children: z.array(BatchItemSchema), links: jobLinks });
export const JobCancelledSchema = z.object({ id: z.string(), state: z.string() });
