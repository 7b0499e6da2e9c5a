// Shapes every part of the management API shares: the OCI error envelope, the common job status,
// and the small grammar the request schemas need. zod only, so a browser bundle can use it.
import { z } from 'zod';

/** One error as the OCI distribution spec puts it; `code` is one of libs/oci's ErrorCodes. */
export const ErrorBodySchema = z.object({ code: z.string(), message: z.string(), detail: z.unknown().optional() });
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** What every failed request answers: `{"errors":[{code,message,detail}]}`. */
export const ErrorEnvelopeSchema = z.object({ errors: z.array(ErrorBodySchema).min(1) });
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

/** `sha256:<64 hex>` or `sha512:<128 hex>`, as the wire carries digests. */
export const DigestSchema = z
  .string()
  .regex(/^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/, 'a digest: sha256:<64 hex> or sha512:<128 hex>');

/** BullMQ's job states, as the job routes report them. */
export const JobStateSchema = z.enum(['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'waiting-children', 'unknown']);
export type JobState = z.infer<typeof JobStateSchema>;

/**
 * The status every job route answers (commit, batch, export, import, replicate, gc): the kind's
 * own fields come on top with `.extend`.
 */
export function jobStatusSchema<K extends z.ZodType<string>, P extends z.ZodType, R extends z.ZodType>(kind: K, progress: P, result: R) {
  return z.object({
    id: z.string(),
    kind,
    state: JobStateSchema,
    progress: progress.nullable(),
    result: result.optional(),
    error: ErrorBodySchema.optional(),
    /** Attempts made so far (jobs with retries back off exponentially). */
    attempts: z.number().int().min(0),
    createdAt: z.string(),
    finishedAt: z.string().optional(),
  });
}

export const LinksSchema = z.record(z.string(), z.string());
