// /api/v1/images, /api/v1/exports, /api/v1/imports (libs/images).
import { z } from 'zod';
import { DigestSchema, jobStatusSchema, LinksSchema } from './common';

const reference = z.string().min(1).max(600);

export const ImageSummarySchema = z.object({
  repository: z.string(),
  tag: z.string(),
  digest: DigestSchema,
  mediaType: z.string(),
  /** Config digest (Docker's image ID); the index digest for a multi-platform image. */
  id: z.string(),
  created: z.string().nullable(),
  /** Bytes as stored and pulled: manifest, config and layers (children's, for an index). */
  compressedSize: z.number(),
  /** Unpacked layer bytes, when known (learned on inspect, load and import). */
  uncompressedSize: z.number().nullable(),
  platforms: z.array(z.string()).optional(),
});
export type ImageSummary = z.infer<typeof ImageSummarySchema>;

/** A page of `repository:tag` rows; `next` is the cursor (`?last=`) of the following page. */
export const ImageListSchema = z.object({ items: z.array(ImageSummarySchema), next: z.string().optional() });

const DescriptorSchema = z.looseObject({ mediaType: z.string(), digest: DigestSchema, size: z.number() });
// Descriptors and platforms are open, as the OCI spec has readers keep fields they do not know.
const PlatformSchema = z.looseObject({ os: z.string(), architecture: z.string(), variant: z.string().optional() });

/** `docker image inspect` of one image (moby's shape, plus sizes as transferred). */
export const ImageInspectSchema = z.object({
  Id: z.string(),
  RepoTags: z.array(z.string()),
  RepoDigests: z.array(z.string()),
  Parent: z.string(),
  Comment: z.string(),
  Created: z.string(),
  DockerVersion: z.string(),
  Author: z.string(),
  Config: z.record(z.string(), z.unknown()),
  Architecture: z.string(),
  Variant: z.string().optional(),
  Os: z.string(),
  OsVersion: z.string().optional(),
  Size: z.number(),
  RootFS: z.object({ Type: z.string(), Layers: z.array(z.string()) }),
  Metadata: z.object({ LastTagTime: z.string() }),
  Descriptor: DescriptorSchema,
  CompressedSize: z.number(),
  UncompressedSize: z.number().nullable(),
});

/** Inspect of a multi-platform index: its platforms and manifests. */
export const IndexInspectSchema = z.object({
  Id: z.string(),
  RepoTags: z.array(z.string()),
  RepoDigests: z.array(z.string()),
  Descriptor: DescriptorSchema,
  Platforms: z.array(z.string()),
  Manifests: z.array(
    z.object({
      ID: z.string(),
      Descriptor: DescriptorSchema,
      Available: z.boolean(),
      Kind: z.enum(['image', 'attestation', 'unknown']),
      Platform: PlatformSchema.optional(),
    }),
  ),
});
export const InspectAnswerSchema = z.union([ImageInspectSchema, IndexInspectSchema]);
export type InspectAnswer = z.infer<typeof InspectAnswerSchema>;

/** One line of `docker history` (moby's HistoryResponseItem), plus the layer it made. */
export const HistoryEntrySchema = z.object({
  Id: z.string(),
  /** Unix seconds. */
  Created: z.number(),
  CreatedBy: z.string(),
  Tags: z.array(z.string()).nullable(),
  Size: z.number(),
  Comment: z.string(),
  EmptyLayer: z.boolean(),
  LayerDigest: z.string().optional(),
  CompressedSize: z.number().optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;
export const HistorySchema = z.array(HistoryEntrySchema);

/**
 * `GET /api/v1/image-ids/{id}`: the image an ID names (a full ID, or 4-64 hex digits with or
 * without `sha256:`), and every manifest holding it in repositories the caller may pull.
 */
export const ImageIdSchema = z.object({
  /** The full image ID (the config digest). */
  id: DigestSchema,
  holders: z.array(
    z.object({
      repository: z.string(),
      /** The manifest of the repository that is this image. */
      digest: DigestSchema,
      tags: z.array(z.string()),
    }),
  ),
});
export type ImageId = z.infer<typeof ImageIdSchema>;

export const TagRequestSchema = z.object({ source: reference, target: reference });
export const TagResultSchema = z.object({
  source: z.string(),
  target: z.string(),
  digest: DigestSchema,
  /** The image the tag named before, when tagging moved it. */
  previous: DigestSchema.optional(),
});

export const RemoveResultSchema = z.object({ untagged: z.array(z.string()), deleted: z.array(DigestSchema) });

/** Where a tag has pointed (the time machine): each digest once, newest tagging first. */
export const TagHistorySchema = z.object({
  repository: z.string(),
  tag: z.string(),
  /** What the tag names now; null once it was untagged. */
  current: DigestSchema.nullable(),
  entries: z.array(
    z.object({
      digest: DigestSchema,
      /** When the tag last came to name this digest (ISO 8601). */
      taggedAt: z.string(),
      current: z.boolean(),
      /** The manifest is still in the repository, so the tag can be restored to it. */
      available: z.boolean(),
    }),
  ),
});
export type TagHistory = z.infer<typeof TagHistorySchema>;

/** `GET /api/v1/images/referrers`: the OCI referrers API's answer for the browser's session (/v2 takes no cookie). */
export const ReferrersQuerySchema = z.object({ ref: reference, artifactType: z.string().min(1).max(255).optional() });
export const ReferrersSchema = z.object({
  repository: z.string(),
  /** The manifest the referrers name as their subject (the ref resolved). */
  subject: DigestSchema,
  referrers: z.array(
    z.object({
      mediaType: z.string(),
      digest: DigestSchema,
      size: z.number(),
      /** What the artifact is: a signature, an SBOM, an attestation (absent on a plain image manifest). */
      artifactType: z.string().optional(),
      annotations: z.record(z.string(), z.string()).optional(),
    }),
  ),
});
export type Referrers = z.infer<typeof ReferrersSchema>;
export const RestoreTagRequestSchema = z.object({ ref: reference, digest: DigestSchema });
export const UntagResultSchema = z.object({ untagged: z.string(), digest: DigestSchema, remainingTags: z.array(z.string()) });

/** `docker import`: the image made from a root filesystem tarball. */
export const RootfsImportResultSchema = z.object({
  reference: z.string(),
  digest: DigestSchema,
  id: DigestSchema,
  layer: z.object({ digest: DigestSchema, size: z.number(), diffId: DigestSchema, uncompressedSize: z.number() }),
});

export const ExportRequestSchema = z.object({
  references: z.array(reference).min(1).max(1000),
  compression: z.enum(['none', 'gzip', 'zstd']).default('none'),
  platform: z.string().max(100).optional(),
});
export type ExportRequest = z.infer<typeof ExportRequestSchema>;

export const ExportProgressSchema = z.object({
  phase: z.enum(['planning', 'writing', 'done']),
  bytes: z.number(),
  totalBytes: z.number(),
  percent: z.number(),
});
export const ExportResultSchema = z.object({
  archive: z.object({
    path: z.string(),
    size: z.number(),
    digest: DigestSchema,
    compression: z.enum(['none', 'gzip', 'zstd']),
    mediaType: z.string(),
  }),
  images: z.array(z.object({ name: z.string(), digest: DigestSchema, tags: z.array(z.string()) })),
  /** Distinct blobs written (configs, layers, manifests), each once. */
  blobs: z.number(),
  /** Blob bytes written before compression. */
  bytes: z.number(),
});
export const ExportJobStatusSchema = jobStatusSchema(z.literal('export'), ExportProgressSchema, ExportResultSchema).extend({
  links: LinksSchema.optional(),
});
export type ExportJobStatus = z.infer<typeof ExportJobStatusSchema>;

export const LoadProgressSchema = z.object({
  phase: z.enum(['reading', 'verifying', 'storing', 'tagging', 'done']),
  bytes: z.number(),
  totalBytes: z.number(),
  percent: z.number(),
});
export const LoadReportSchema = z.object({
  format: z.string(),
  compression: z.string(),
  images: z.array(
    z.object({
      digest: DigestSchema,
      /** Config digest (Docker's image ID). */
      id: DigestSchema,
      repositories: z.array(z.string()),
      tags: z.array(z.string()),
      layers: z.number(),
      size: z.number(),
    }),
  ),
  /** `docker load`'s lines: `Loaded image: NAME:TAG` (or `Loaded image ID: ...`). */
  loaded: z.array(z.string()),
  /** Images without a name and no `repository` to put them in. */
  skipped: z.array(z.object({ id: DigestSchema, reason: z.string() })),
  blobs: z.object({ total: z.number(), stored: z.number(), existing: z.number() }),
  bytes: z.number(),
});
export const ImportJobStatusSchema = jobStatusSchema(z.literal('import'), LoadProgressSchema, LoadReportSchema).extend({
  links: LinksSchema.optional(),
});
export type ImportJobStatus = z.infer<typeof ImportJobStatusSchema>;

/** `GET /api/v1/repositories`: search (name contains q), sort, and an offset cursor over every row, shown or not. */
export const RepositoryListQuerySchema = z.object({
  q: z.string().max(255).optional(),
  sort: z.enum(['name', 'pushed', 'pulls']).optional(),
  n: z
    .string()
    .regex(/^[1-9]\d{0,2}$/, '`n` must be a whole number from 1 to 999')
    .optional(),
  cursor: z
    .string()
    .regex(/^\d{1,9}$/, '`cursor` must be a whole number')
    .optional(),
});
export const RepositorySummarySchema = z.object({
  name: z.string(),
  /** When a tag was last pushed or moved (ISO 8601); null when not known. */
  lastPush: z.string().nullable(),
  /** Manifest GETs counted since the index began. */
  pulls: z.number(),
  tags: z.number(),
});
export type RepositorySummary = z.infer<typeof RepositorySummarySchema>;
export const RepositoryListSchema = z.object({
  items: z.array(RepositorySummarySchema),
  /** Where the next page starts; absent on the last page. */
  next: z.string().optional(),
});
