// The query strings of the /api/v1 routes that take one. Values arrive as strings (a repeated
// parameter as an array); each schema says what a route accepts, the controllers validate with it
// before reading the values, and the OpenAPI document lists its parameters from it.
import { z } from 'zod';

const text = (what: string) => z.string().min(1, `${what} must not be empty`).max(4096);
/** A whole number in decimal digits (no signs, exponents or hex). */
const digits = (what: string) => z.string().regex(/^\d{1,16}$/, `${what} must be a whole number`);
const flag = z.enum(['1', 'true', '0', 'false']);
/** A path inside a container, as the file routes take it. */
const containerPath = text('path');

export const ListImagesQuerySchema = z.object({
  repository: z.string().max(255).optional(),
  n: z
    .string()
    .regex(/^[1-9]\d{0,15}$/, '`n` must be a positive integer')
    .optional(),
  last: z.string().max(1024).optional(),
});

export const ImageRefQuerySchema = z.object({ ref: text('ref') });
export const RemoveImageQuerySchema = z.object({ ref: text('ref'), force: flag.optional() });

export const ImportRootfsQuerySchema = z.object({
  ref: text('ref'),
  /** `docker import --change`, repeatable. */
  change: z.union([z.string().max(4096), z.array(z.string().max(4096)).max(100)]).optional(),
  message: z.string().max(65536).optional(),
  author: z.string().max(1024).optional(),
  platform: z
    .string()
    .regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, '`platform` is os/architecture[/variant]')
    .optional(),
  /** Where the tarball came from (the file name or URL given to `docker import`): the history's `Imported from SOURCE`; default `-` (stdin). */
  source: z.string().min(1).max(4096).optional(),
  maxBytes: digits('`maxBytes`').optional(),
});

export const CreateImportQuerySchema = z.object({ repository: z.string().max(255).optional(), maxBytes: digits('`maxBytes`').optional() });

export const RetentionQuerySchema = z.object({ repository: text('repository').max(255) });

export const ContainerPathQuerySchema = z.object({ path: containerPath });
export const ListDirQuerySchema = z.object({ path: containerPath.optional() });
export const RemoveFileQuerySchema = z.object({ path: containerPath, recursive: flag.optional() });
export const WriteFileQuerySchema = z.object({
  path: containerPath,
  mode: z
    .string()
    .regex(/^[0-7]{1,4}$/, '`mode` is octal, e.g. 0644')
    .optional(),
  uid: digits('`uid`').optional(),
  gid: digits('`gid`').optional(),
});
export const PutArchiveQuerySchema = z.object({ mode: z.enum(['overlay', 'rootfs']).optional() });
