// Settings of the images module and the request helpers its controllers share.
import { PassThrough, Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { RegistryError } from '@stevedore/oci';

export interface ImagesOptions {
  /** Largest archive or rootfs tarball accepted, compressed and uncompressed alike (STEVEDORE_MAX_IMPORT_BYTES). */
  maxArchiveBytes: number;
  /** Past 64 MiB, refuse an archive expanding more than this many times (STEVEDORE_MAX_EXPANSION_RATIO). */
  maxExpansionRatio: number;
}

export const DEFAULT_IMAGES_OPTIONS: ImagesOptions = { maxArchiveBytes: 4 * 1024 ** 3, maxExpansionRatio: 100 };

export const IMAGES_OPTIONS = Symbol('ImagesOptions');

/**
 * The request's bytes as a stream: non-JSON bodies arrive unparsed (see libs/server bootstrap).
 * Readers get a shield, not the request itself: a reader that stops early destroys what it reads
 * (an async iterator does), and destroying an unfinished request kills its socket before the
 * answer is sent. The error filter decides what happens to an unread rest (drained or closed).
 */
export function requestBody(req: FastifyRequest): Readable {
  if (req.body !== undefined && req.body !== null && !(req.body instanceof Readable)) {
    throw new RegistryError(
      'INVALID_REQUEST',
      'send the tarball as the raw body (Content-Type: application/x-tar, application/gzip or application/octet-stream), not JSON',
    );
  }
  const source = (req.body as Readable | undefined) ?? req.raw;
  const shield = new PassThrough({ highWaterMark: 1 << 20 });
  source.on('error', (e) => shield.destroy(e));
  // The request ended early (client gone): the reader must not wait for bytes that never come.
  source.on('aborted', () => shield.destroy(new RegistryError('INVALID_REQUEST', 'the request body ended early')));
  shield.on('close', () => source.unpipe(shield));
  return source.pipe(shield);
}

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    throw new RegistryError(
      'INVALID_REQUEST',
      `invalid request body: ${r.error.issues[0].path.join('.') || '(root)'}: ${r.error.issues[0].message}`,
      {
        issues: r.error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.'), message: i.message })),
      },
    );
  }
  return r.data;
}

/** A client may lower the size limit for its request (`maxBytes`), never raise it. */
export function parseLimit(value: unknown, serverLimit: number): number {
  if (value === undefined || value === '') return serverLimit;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RegistryError('INVALID_REQUEST', '`maxBytes` must be a positive integer', { maxBytes: value });
  return Math.min(n, serverLimit);
}
