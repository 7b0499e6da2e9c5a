// /api/v1/admin/consistency (libs/gc consistency.controller.ts): the consistency pass, on demand.
import { z } from 'zod';
import { jobStatusSchema } from './common';

export const ConsistencyRunRequestSchema = z.strictObject({
  /** Report what differs between the Redis indexes and storage without repairing anything. */
  dryRun: z.boolean().default(false),
  /** How long the request waits for the run to finish (it answers 202 with the run as it is then). */
  waitSeconds: z.number().int().min(0).max(600).default(60),
});
export type ConsistencyRunRequest = z.infer<typeof ConsistencyRunRequestSchema>;

const kind = z.enum(['tag', 'revision', 'link', 'manifest', 'blob', 'catalog', 'imageid']);
const counts = z.object({ add: z.number(), remove: z.number(), correct: z.number() });

export const ConsistencyReportSchema = z.object({
  dryRun: z.boolean(),
  startedAt: z.string(),
  durationMs: z.number(),
  repositories: z.number(),
  found: z.number(),
  repaired: z.number(),
  takenBack: z.number(),
  byKind: z.partialRecord(kind, counts),
  findings: z.array(
    z.object({
      kind,
      action: z.enum(['add', 'remove', 'correct']),
      repository: z.string().optional(),
      subject: z.string(),
      expected: z.string().optional(),
      actual: z.string().optional(),
      repaired: z.boolean(),
    }),
  ),
});

export const ConsistencyRunSchema = jobStatusSchema(
  z.literal('consistency'),
  z.object({ repositories: z.number() }),
  ConsistencyReportSchema,
).extend({ request: z.object({ dryRun: z.boolean(), scheduled: z.boolean().optional() }) });
export type ConsistencyRun = z.infer<typeof ConsistencyRunSchema>;
export const ConsistencyRunListSchema = z.object({ runs: z.array(ConsistencyRunSchema) });
