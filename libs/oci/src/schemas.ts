// zod schemas of the OCI image spec (manifest, index, config, descriptor) and Docker schema2.
// Objects are loose: unknown fields are kept, as the specs require readers to ignore them.
import { z } from 'zod';
import { isDigest, type Digest } from './digest';
import { MediaTypes } from './media-types';

// z.custom carries the Digest type itself: a refine would leave a plain string.
const digestSchema = z.custom<Digest>((v) => typeof v === 'string' && isDigest(v), {
  message: 'must be a digest: sha256:<64 hex> or sha512:<128 hex>',
});
const mediaTypeSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/, 'must be a media type (type/subtype)');
const annotationsSchema = z.record(z.string(), z.string());

export const PlatformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
});
export type Platform = z.infer<typeof PlatformSchema>;

export const DescriptorSchema = z.looseObject({
  mediaType: mediaTypeSchema,
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: annotationsSchema.optional(),
  data: z.string().optional(),
  platform: PlatformSchema.optional(),
  artifactType: mediaTypeSchema.optional(),
});
export type Descriptor = z.infer<typeof DescriptorSchema>;

export const OciManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MediaTypes.ociManifest).optional(),
  artifactType: mediaTypeSchema.optional(),
  config: DescriptorSchema,
  layers: z.array(DescriptorSchema),
  subject: DescriptorSchema.optional(),
  annotations: annotationsSchema.optional(),
});
export type OciManifest = z.infer<typeof OciManifestSchema>;

export const OciIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MediaTypes.ociIndex).optional(),
  artifactType: mediaTypeSchema.optional(),
  manifests: z.array(DescriptorSchema),
  subject: DescriptorSchema.optional(),
  annotations: annotationsSchema.optional(),
});
export type OciIndex = z.infer<typeof OciIndexSchema>;

export const DockerManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MediaTypes.dockerManifest),
  config: DescriptorSchema,
  layers: z.array(DescriptorSchema),
});
export type DockerManifest = z.infer<typeof DockerManifestSchema>;

export const DockerManifestListSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MediaTypes.dockerManifestList),
  manifests: z.array(DescriptorSchema),
});
export type DockerManifestList = z.infer<typeof DockerManifestListSchema>;

/** An image manifest of either family: what an Image exposes. */
export type ImageManifest = OciManifest | DockerManifest;
export type ImageIndex = OciIndex | DockerManifestList;

const stringList = z.array(z.string()).nullish();
const emptySet = z.record(z.string(), z.looseObject({})).nullish();

export const HealthcheckSchema = z.looseObject({
  Test: stringList,
  Interval: z.number().optional(),
  Timeout: z.number().optional(),
  StartPeriod: z.number().optional(),
  StartInterval: z.number().optional(),
  Retries: z.number().optional(),
});
export type Healthcheck = z.infer<typeof HealthcheckSchema>;

/** The container config part of an image config: what `docker inspect` shows under Config. */
export const ContainerConfigSchema = z.looseObject({
  User: z.string().optional(),
  ExposedPorts: emptySet,
  Env: stringList,
  Entrypoint: stringList,
  Cmd: stringList,
  Volumes: emptySet,
  WorkingDir: z.string().optional(),
  Labels: z.record(z.string(), z.string()).nullish(),
  StopSignal: z.string().optional(),
  OnBuild: stringList,
  Healthcheck: HealthcheckSchema.optional(),
  ArgsEscaped: z.boolean().optional(),
  Shell: stringList,
});
export type ContainerConfig = z.infer<typeof ContainerConfigSchema>;

export const HistorySchema = z.looseObject({
  created: z.string().optional(),
  created_by: z.string().optional(),
  author: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});
export type History = z.infer<typeof HistorySchema>;

export const ImageConfigSchema = z.looseObject({
  created: z.string().optional(),
  author: z.string().optional(),
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  config: ContainerConfigSchema.optional(),
  rootfs: z.looseObject({ type: z.literal('layers'), diff_ids: z.array(digestSchema) }),
  history: z.array(HistorySchema).optional(),
  // Docker-only fields that `docker inspect` shows.
  comment: z.string().optional(),
  container: z.string().optional(),
  docker_version: z.string().optional(),
});
export type ImageConfig = z.infer<typeof ImageConfigSchema>;
