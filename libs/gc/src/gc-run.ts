// A GC run's request (job data) and report (job result).
import { GcReportSchema, GcRunRequestSchema } from '@stevedore/api-contract';
import type { z } from 'zod';
import { RegistryError } from '@stevedore/oci';

export { GcRunRequestSchema };
export type GcRunRequest = z.infer<typeof GcRunRequestSchema> & { scheduled?: boolean };

export function parseGcRunRequest(body: unknown): GcRunRequest {
  const r = GcRunRequestSchema.safeParse(body ?? {});
  if (!r.success)
    throw new RegistryError('INVALID_REQUEST', 'invalid GC request', {
      issues: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    });
  return r.data;
}

/** Lists in a report stop at this many entries (the counts are always whole). */
export const REPORT_LIST_LIMIT = 1000;

/** A run's report: the contract's schema is its one definition (the status route answers with it). */
export type GcReport = z.infer<typeof GcReportSchema>;

declare module '@stevedore/platform' {
  interface JobTypes {
    gc: { data: GcRunRequest; result: GcReport };
  }
}
