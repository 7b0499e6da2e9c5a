// /api/v1/upstreams, /api/v1/replications, /api/v1/replication-rules (libs/upstream).
import { z } from 'zod';
import { DigestSchema, jobStatusSchema } from './common';

const PREFIX_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** An upstream registry as an operator gives it (POST creates, PUT replaces). */
export const UpstreamRequestSchema = z.strictObject({
  id: z.string().regex(ID_RE, 'id: lowercase letters, digits and dashes').optional(),
  url: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'url must be http or https'),
  /** Repository-name paths this upstream serves (pull-through); a trailing slash is dropped. */
  prefixes: z
    .array(
      z
        .string()
        .transform((p) => p.replace(/\/+$/, ''))
        .refine((p) => PREFIX_RE.test(p), 'prefix must be a repository-name path'),
    )
    .default([]),
  default: z.boolean().default(false),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
});
export type UpstreamRequest = z.input<typeof UpstreamRequestSchema>;

/** An upstream as answers show it: never the secret. */
export const UpstreamSchema = z.object({
  id: z.string(),
  url: z.string(),
  prefixes: z.array(z.string()),
  default: z.boolean(),
  username: z.string().optional(),
  hasPassword: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Upstream = z.infer<typeof UpstreamSchema>;
export const UpstreamListSchema = z.object({ upstreams: z.array(UpstreamSchema) });

/** Copy a local image to an upstream: `source` is `name[:tag|@digest]`, the target a repository and tag. */
export const ReplicateRequestSchema = z.object({
  source: z.string().min(1).max(600),
  target: z.object({ upstream: z.string(), name: z.string().min(1).max(600), tag: z.string().optional() }),
});
export const ReplicateAcceptedSchema = z.object({ id: z.string() });

const counter = z.object({ done: z.number(), total: z.number() });
export const ReplicateProgressSchema = z.object({
  phase: z.enum(['planning', 'blobs', 'manifests', 'tags', 'done']),
  blobs: counter,
  bytes: counter,
  manifests: counter,
});
export const ReplicateResultSchema = z.object({
  digest: DigestSchema,
  target: z.string(),
  blobs: z.object({ uploaded: z.number(), mounted: z.number(), existing: z.number() }),
  bytes: z.number(),
});
export const ReplicationStatusSchema = jobStatusSchema(z.literal('replicate'), ReplicateProgressSchema, ReplicateResultSchema).extend({
  data: z.object({
    source: z.object({ name: z.string(), tag: z.string().optional(), digest: DigestSchema.optional() }),
    target: z.object({ upstream: z.string(), name: z.string(), tag: z.string().optional() }),
    /** Set when a replication rule enqueued the job. */
    rule: z.string().optional(),
  }),
});
export type ReplicationStatus = z.infer<typeof ReplicationStatusSchema>;

export const ReplicationRuleRequestSchema = z.strictObject({
  id: z.string().regex(ID_RE).optional(),
  sourcePattern: z
    .string()
    .min(1)
    .max(300)
    .regex(/^[a-z0-9._\-/*?]+(?::[\w.\-*?]+)?$/, 'a glob over name[:tag]'),
  target: z.strictObject({
    upstream: z.string().regex(ID_RE),
    /** Repository at the target; `{name}` is the source repository name. */
    repository: z.string().min(1).max(255).default('{name}'),
  }),
  enabled: z.boolean().default(true),
});
export const ReplicationRuleSchema = z.object({
  id: z.string(),
  sourcePattern: z.string(),
  target: z.object({ upstream: z.string(), repository: z.string() }),
  enabled: z.boolean(),
  createdAt: z.string(),
});
export type ReplicationRule = z.infer<typeof ReplicationRuleSchema>;
export const ReplicationRuleListSchema = z.object({ rules: z.array(ReplicationRuleSchema) });
