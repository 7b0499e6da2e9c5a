// Settings of the images module and the request helpers its controllers share.
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { RegistryError } from '@stevedore/oci';

export interface ImagesOptions {
  /** Largest archive or rootfs tarball accepted, compressed and uncompressed alike. */
  maxArchiveBytes: number;
}

export const DEFAULT_IMAGES_OPTIONS: ImagesOptions = { maxArchiveBytes: 16 * 1024 ** 3 };

export const IMAGES_OPTIONS = Symbol('ImagesOptions');

/** The request's bytes as a stream: non-JSON bodies arrive unparsed (see libs/server bootstrap). */
export function requestBody(req: FastifyRequest): Readable {
  if (req.body instanceof Readable) return req.body;
  if (req.body !== undefined && req.body !== null) {
    throw new RegistryError('INVALID_REQUEST', 'send the tarball as the raw body (Content-Type: application/x-tar, application/gzip or application/octet-stream), not JSON');
  }
  return req.raw;
}

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    throw new RegistryError('INVALID_REQUEST', `invalid request body: ${r.error.issues[0].path.join('.') || '(root)'}: ${r.error.issues[0].message}`, {
      issues: r.error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return r.data;
}

/** A client may lower the size limit for its request (`maxBytes`), never raise it. */
export function parseLimit(value: unknown, serverLimit: number): number {
  if (value === undefined || value === '') return serverLimit;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new RegistryError('INVALID_REQUEST', '`maxBytes` must be a positive integer', { maxBytes: value });
  return Math.min(n, serverLimit);
}
