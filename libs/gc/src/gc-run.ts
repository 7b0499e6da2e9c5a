// A GC run's request (job data) and report (job result).
import { GcRunRequestSchema } from '@stevedore/api-contract';
import type { z } from 'zod';
import { RegistryError } from '@stevedore/oci';
import type { ContainerCollectReport } from '@stevedore/containers';

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

export interface GcReport {
  dryRun: boolean;
  startedAt: string;
  durationMs: number;
  settings: { graceSeconds: number; untaggedMaxAgeSeconds: number; uploadMaxAgeSeconds: number };
  repositories: number;
  retention: { tagsDeleted: number; tags: Array<{ repository: string; tag: string }> };
  manifests: {
    scanned: number;
    deleted: number;
    bytesFreed: number;
    digests: Array<{ repository: string; digest: string }>;
    recordsPurged: number;
  };
  blobs: { scanned: number; deleted: number; unlinked: number; skipped: number; bytesFreed: number; digests: string[] };
  uploads: { sessions: number; bytesFreed: number; multipartAborted: number };
  /** The consistency pass the run started with (not in a dry run): index entries storage had and Redis lost, and so on. */
  consistency?: { found: number; repaired: number };
  /** Container contents and layer indexes (where the run's target reaches containers). */
  containers?: Omit<ContainerCollectReport, 'usage' | 'unreferenced'>;
  /** Storage deleteMany batches sent (each up to 1,000 blobs). */
  deleteBatches: number;
  bytesFreed: number;
  quotas?: Record<string, number>;
}

declare module '@stevedore/platform' {
  interface JobTypes {
    gc: { data: GcRunRequest; result: GcReport };
  }
}
