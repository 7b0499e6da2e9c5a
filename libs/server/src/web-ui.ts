// The web UI (apps/web, built by Vite into dist/apps/web) at `/`: files as built, and index.html
// for the UI's own client routes, so a reload of /r/alice/app works. Paths of the platform's other
// APIs never fall back to the page: an unknown /api/v1 or /v2 path answers the JSON 404 it always did.
import type { INestApplication } from '@nestjs/common';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

/** Where `nx run web:build` writes the UI (the repository's dist/, from this file's place in libs/server/src). */
export const WEB_UI_DIR = path.resolve(__dirname, '../../../dist/apps/web');

/** Prefixes that belong to the platform, not the UI: never answered with the page. */
const PLATFORM_PREFIXES = ['/v2', '/api', '/auth', '/admin', '/internal', '/metrics', '/healthz', '/readyz'];

// The security headers the page's answers carry: no framing (clickjacking), scripts and styles
// only from this origin (React Aria sets inline style attributes, hence style-src 'unsafe-inline').
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

export function isPlatformPath(url: string): boolean {
  const p = url.split('?')[0];
  return PLATFORM_PREFIXES.some((prefix) => p === prefix || p.startsWith(prefix + '/') || p.startsWith(prefix + '-'));
}

/** Cache headers: Vite's hashed assets never change; the page and unhashed files are revalidated. */
export function cacheControlFor(file: string): string {
  if (file.startsWith('assets/')) return 'public, max-age=31536000, immutable';
  if (file === 'index.html') return 'no-cache';
  return 'public, max-age=3600';
}

function fileOf(root: string, url: string): string | undefined {
  let p: string;
  try {
    p = decodeURIComponent(url.split('?')[0]);
  } catch {
    return undefined;
  }
  const relative = path.posix.normalize(p).replace(/^\/+/, '');
  if (!relative || relative.startsWith('..') || relative.includes('\0')) return undefined;
  const full = path.join(root, relative);
  if (!full.startsWith(root + path.sep)) return undefined;
  return existsSync(full) && statSync(full).isFile() ? relative : undefined;
}

export async function serveWebUi(app: INestApplication, root = WEB_UI_DIR): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  await fastify.register(fastifyStatic, { root, serve: false, cacheControl: false, etag: true, lastModified: true });
  const built = existsSync(path.join(root, 'index.html'));
  fastify.get('/*', async (req: FastifyRequest, reply: FastifyReply) => {
    if (isPlatformPath(req.url)) return reply.callNotFound();
    if (!built) {
      return reply
        .code(404)
        .header('content-type', 'application/json; charset=utf-8')
        .send({ errors: [{ code: 'NOT_FOUND', message: 'the web UI is not built: run `npx nx run web:build` (npm ci does it)' }] });
    }
    const file = fileOf(root, req.url);
    // A path with an extension names a file: missing, it is a 404, not the page.
    const target = file ?? (path.posix.extname(req.url.split('?')[0]) ? undefined : 'index.html');
    if (!target) return reply.callNotFound();
    reply.headers(PAGE_HEADERS).header('cache-control', cacheControlFor(target));
    return reply.sendFile(target);
  });
}
