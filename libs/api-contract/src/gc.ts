// /api/v1/gc, /api/v1/retention, /api/v1/quotas (libs/gc).
import { z } from 'zod';
import { jobStatusSchema } from './common';

export const GcRunRequestSchema = z.strictObject({
  dryRun: z.boolean().default(false),
  /** Overrides of the configured ages, in seconds (operators and tests). */
  graceSeconds: z.number().min(0).optional(),
  untaggedMaxAgeSeconds: z.number().min(0).optional(),
  uploadMaxAgeSeconds: z.number().min(0).optional(),
});

/** Lists in a report stop at REPORT_LIST_LIMIT entries (libs/gc); the counts are always whole. */
export const GcReportSchema = z.object({
  dryRun: z.boolean(),
  startedAt: z.string(),
  durationMs: z.number(),
  settings: z.object({ graceSeconds: z.number(), untaggedMaxAgeSeconds: z.number(), uploadMaxAgeSeconds: z.number() }),
  repositories: z.number(),
  retention: z.object({ tagsDeleted: z.number(), tags: z.array(z.object({ repository: z.string(), tag: z.string() })) }),
  manifests: z.object({
    scanned: z.number(),
    deleted: z.number(),
    bytesFreed: z.number(),
    digests: z.array(z.object({ repository: z.string(), digest: z.string() })),
    recordsPurged: z.number(),
  }),
  blobs: z.object({
    scanned: z.number(),
    deleted: z.number(),
    unlinked: z.number(),
    skipped: z.number(),
    bytesFreed: z.number(),
    digests: z.array(z.string()),
  }),
  uploads: z.object({ sessions: z.number(), bytesFreed: z.number(), multipartAborted: z.number() }),
  /** The consistency pass the run started with (not in a dry run): index entries storage had and Redis lost, and so on. */
  consistency: z.object({ found: z.number(), repaired: z.number() }).optional(),
  /** Container contents and layer indexes (where the run's target reaches containers). */
  containers: z
    .object({
      containers: z.number(),
      layerIndexes: z.object({ scanned: z.number(), deleted: z.number(), rebuilt: z.number() }),
      content: z.object({ scanned: z.number(), deleted: z.number(), skipped: z.number(), bytesFreed: z.number() }),
      tmpFiles: z.number(),
    })
    .optional(),
  /** Storage deleteMany batches sent (each up to 1,000 blobs). */
  deleteBatches: z.number(),
  bytesFreed: z.number(),
  quotas: z.record(z.string(), z.number()).optional(),
});

export const GcRunSchema = jobStatusSchema(z.literal('gc'), z.object({ phase: z.string() }), GcReportSchema).extend({
  request: GcRunRequestSchema.extend({ scheduled: z.boolean().optional() }),
});
export type GcRun = z.infer<typeof GcRunSchema>;
export const GcRunListSchema = z.object({ runs: z.array(GcRunSchema) });

/** Keep the newest N tags, tags matching a pattern, or tags younger than D days; PUT replaces a repository's rule. */
export const RetentionRuleSchema = z.strictObject({
  /** A repository name, or a pattern with `*` (any characters, across `/`). */
  repository: z.string().min(1).max(255),
  keepLast: z.number().int().min(0).optional(),
  /** A regular expression a tag must match (whole tag) to be kept. */
  keepPattern: z.string().min(1).max(200).optional(),
  maxAgeDays: z.number().min(0).optional(),
});
export type RetentionRule = z.infer<typeof RetentionRuleSchema>;
export const RetentionRuleListSchema = z.object({ rules: z.array(RetentionRuleSchema) });

export const QuotaLimitRequestSchema = z.object({ limitBytes: z.number() });
export const NamespaceQuotaSchema = z.object({ namespace: z.string(), limitBytes: z.number().optional(), usedBytes: z.number() });
export type NamespaceQuota = z.infer<typeof NamespaceQuotaSchema>;
export const QuotaListSchema = z.object({ quotas: z.array(NamespaceQuotaSchema) });
