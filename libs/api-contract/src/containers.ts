// /api/v1/containers (libs/containers): create, list, inspect, files, ops, archive, diff, pause.
import { z } from 'zod';
import { DigestSchema } from './common';

export const CreateContainerRequestSchema = z.object({ image: z.string().min(1).max(600), name: z.string().max(128).optional() });

/** Permission bits as a number, or as octal digits in a string ("0755"). */
const mode = z.union([
  z.number().int().min(0).max(0o7777),
  z
    .string()
    .regex(/^[0-7]{1,4}$/)
    .transform((s) => parseInt(s, 8)),
]);
const ownerId = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);
const path = z.string().min(1).max(4096);

/** mkdir, symlink, chmod, chown, remove, rename on the read-write layer. */
export const FileOpRequestSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('mkdir'),
    path,
    parents: z.boolean().optional(),
    mode: mode.optional(),
    uid: ownerId.optional(),
    gid: ownerId.optional(),
  }),
  z.object({ op: z.literal('symlink'), path, target: z.string().min(1).max(4096) }),
  z.object({ op: z.literal('chmod'), path, mode }),
  z.object({ op: z.literal('chown'), path, uid: ownerId, gid: ownerId }),
  z.object({ op: z.literal('remove'), path, recursive: z.boolean().optional() }),
  z.object({ op: z.literal('rename'), from: path, to: path }),
]);
export type FileOpRequest = z.output<typeof FileOpRequestSchema>;

/** A filesystem entry (libs/unionfs Entry): path relative to the root, permission bits, whole-second mtime. */
export const EntrySchema = z.object({
  path: z.string(),
  type: z.enum(['file', 'directory', 'symlink', 'hardlink', 'char-device', 'block-device', 'fifo', 'whiteout']),
  mode: z.number(),
  uid: z.number(),
  gid: z.number(),
  mtime: z.number(),
  size: z.number(),
  digest: DigestSchema.optional(),
  linkname: z.string().optional(),
  devmajor: z.number().optional(),
  devminor: z.number().optional(),
  xattrs: z.record(z.string(), z.string()).optional(),
  opaque: z.boolean().optional(),
});
export type Entry = z.infer<typeof EntrySchema>;

/** Docker's `docker diff` line: the absolute path and A(dded), C(hanged) or D(eleted). */
export const ChangeSchema = z.object({ path: z.string(), kind: z.enum(['A', 'C', 'D']) });
export type Change = z.infer<typeof ChangeSchema>;

export const ContainerSchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  owner: z.string().optional(),
  image: z.object({
    /** The reference as given (`busybox:1`), and what it resolved to. */
    reference: z.string(),
    repository: z.string(),
    manifestDigest: DigestSchema,
    configDigest: DigestSchema,
    layers: z.array(DigestSchema),
  }),
  createdAt: z.string(),
  state: z.enum(['running', 'paused']),
  pausedBy: z.array(z.string()),
  generation: z.number(),
  /** Entries in the read-write layer. */
  upperEntries: z.number(),
});
export type Container = z.infer<typeof ContainerSchema>;

export const ContainerListSchema = z.object({ containers: z.array(ContainerSchema) });
export const DirListingSchema = z.object({ entries: z.array(EntrySchema) });
export const FileOpResultSchema = z.object({ entry: EntrySchema.optional() });
export const ArchiveUploadResultSchema = z.object({ entries: z.number() });
export const DiffSchema = z.object({ changes: z.array(ChangeSchema) });

/** An entry of an image's union filesystem: which layer (index into `layers`, bottom first) the view shows it from, and the lower layers it shadows. */
export const BrowsedEntrySchema = EntrySchema.extend({ layer: z.number().nullable(), shadows: z.array(z.number()) });
export type BrowsedEntry = z.infer<typeof BrowsedEntrySchema>;
export const ImageBrowseSchema = z.object({
  repository: z.string(),
  manifestDigest: DigestSchema,
  layers: z.array(DigestSchema),
  entry: BrowsedEntrySchema,
  children: z.array(BrowsedEntrySchema),
});
export type ImageBrowse = z.infer<typeof ImageBrowseSchema>;
export const ImageBrowseQuerySchema = z.object({ ref: z.string().min(1).max(600), path: z.string().max(4096).optional() });

/** `GET /api/v1/images/file`: one file of an image's union filesystem, as a download. */
export const ImageFileQuerySchema = z.object({ ref: z.string().min(1).max(600), path: z.string().min(1).max(4096) });

/** `GET /api/v1/images/changes`: one layer as Docker's change list against the layers below it, or an image against another (`from`). */
export const ImageChangesQuerySchema = z.object({
  ref: z.string().min(1).max(600),
  layer: z
    .string()
    .regex(/^\d{1,4}$/, '`layer` must be a layer number from 0')
    .optional(),
  from: z.string().min(1).max(600).optional(),
});
export const SizedChangeSchema = ChangeSchema.extend({ type: EntrySchema.shape.type.optional(), size: z.number().optional() });
export type SizedChange = z.infer<typeof SizedChangeSchema>;
export const ImageChangesSchema = z.object({ changes: z.array(SizedChangeSchema) });
