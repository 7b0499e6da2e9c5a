// The OCI Distribution API (/v2) on Fastify routes: status codes, headers and error envelope as the
// spec gives them. Bodies stream end to end; manifests are read up to a cap. Domain work is done by
// the BlobService and MetadataService interfaces, in-process or over HTTP.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { MediaTypes, RegistryError, parseDigest, assertRepositoryName, type Digest, readCapped, manifestReference } from '@stevedore/oci';
import { sendRegistryError, toRegistryError, type StevedoreMetrics } from '@stevedore/platform';
import { Transform } from 'node:stream';
import type { BlobService, ByteRange } from '@stevedore/blobs';
import { FileRangeStream } from '@stevedore/storage';
import type { MetadataService } from '@stevedore/metadata';
import { Logger } from '@nestjs/common';
import { matchV2, requiredAccess, type V2Route } from './routes';
import type { AccessGuard, AccessRequest } from './access-guard';

export interface DistributionApiOptions {
  maxManifestBytes: number;
  /** Answer blob GETs with 307 to presigned storage URLs when the storage offers them. */
  redirectBlobs: boolean;
}

const API_VERSION = { 'docker-distribution-api-version': 'registry/2.0' };

function body(req: FastifyRequest): Readable {
  return ((req.body as Readable | undefined) ?? req.raw) as Readable;
}

/** The request body, counted into bytes-pushed as it flows. */
function countedBody(req: FastifyRequest, metrics?: StevedoreMetrics): Readable {
  const src = body(req);
  if (!metrics) return src;
  const counter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      metrics.bytesPushed.inc(chunk.length);
      cb(null, chunk);
    },
  });
  src.on('error', (e) => counter.destroy(e));
  return src.pipe(counter);
}

/**
 * A file's bytes written to the socket through recycled buffers (FileRangeStream.writeTo) instead of
 * Fastify piping a stream that allocates a buffer per chunk. The headers Fastify holds (status, the
 * request id, the blob's) go out as they would; onResponse hooks still run, as Fastify listens for
 * the response's end from the start of the request.
 */
async function sendFileBody(reply: FastifyReply, body: FileRangeStream): Promise<void> {
  const res = reply.raw;
  reply.hijack();
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value);
  res.writeHead(reply.statusCode);
  try {
    await body.writeTo(res);
    res.end();
  } catch (e) {
    // Headers are out: the only way to tell the client the body is short is to cut the connection.
    // A client that went away is not worth a warning.
    if (!res.destroyed) reply.log.warn({ err: e }, 'blob body cut short');
    res.destroy();
  }
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function contentLength(req: FastifyRequest): number | undefined {
  const v = header(req, 'content-length');
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new RegistryError('SIZE_INVALID', 'invalid Content-Length', { contentLength: v });
  return n;
}

/** `Content-Range: <start>-<end>` of a PATCH (the spec's form, also tolerating a `bytes ` prefix). */
function parseContentRange(v: string | undefined): ByteRange | undefined {
  if (!v) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(v.trim());
  if (!m) throw new RegistryError('RANGE_INVALID', 'invalid Content-Range', { contentRange: v }, 416);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new RegistryError('RANGE_INVALID', 'invalid Content-Range', { contentRange: v }, 416);
  return { start, end };
}

/** A `Range: bytes=a-b` request header of a blob GET (single range). */
function parseRange(v: string | undefined): ByteRange | undefined {
  if (!v) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(v.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw new RegistryError('RANGE_INVALID', 'invalid Range', { range: v });
  if (m[1] === '') return { start: -Number(m[2]) };
  return { start: Number(m[1]), end: m[2] === '' ? undefined : Number(m[2]) };
}

function uploadHeaders(name: string, id: string, offset: number): Record<string, string> {
  return {
    location: `/v2/${name}/blobs/uploads/${id}`,
    range: `0-${Math.max(0, offset - 1)}`,
    'docker-upload-uuid': id,
  };
}

/** The most entries one page answers; a larger `n` gets this many and a Link to the rest, as the spec allows. */
export const MAX_PAGE_ENTRIES = 10_000;

function pageQuery(q: Record<string, string | undefined>): { n?: number; last?: string } {
  let n: number | undefined;
  if (q.n !== undefined) {
    n = /^\d{1,16}$/.test(q.n) ? Number(q.n) : NaN;
    if (!Number.isSafeInteger(n))
      throw new RegistryError('INVALID_REQUEST', 'n must be a non-negative integer', { n: String(q.n).slice(0, 40) });
    n = Math.min(n, MAX_PAGE_ENTRIES);
  }
  // Names are at most 255 characters and tags 128: anything longer cannot be a cursor we gave out.
  const last: unknown = q.last;
  if (last !== undefined && (typeof last !== 'string' || last.length > 512))
    throw new RegistryError('INVALID_REQUEST', 'last is not a name or tag', { last: String(last).slice(0, 40) });
  return { n, last: q.last || undefined };
}

/**
 * The scopes an UNAUTHORIZED answer asks for: the request's own, and for a cross-repository mount
 * also pull on the source (one `scope`, space-separated, as distribution does), so a token client
 * that follows the challenge gets a token the mount can use.
 */
function challengeScopes(
  route: V2Route | undefined,
  method: string,
  query: Record<string, string | undefined>,
  access: AccessRequest,
): AccessRequest[] {
  const from = query.from;
  if (route?.kind === 'uploads' && method === 'POST' && query.mount && from && from !== access.name) {
    return [access, { type: 'repository', name: from, actions: ['pull'] }];
  }
  return [access];
}

export class DistributionApi {
  private readonly logger = new Logger('v2');

  constructor(
    private readonly blobs: BlobService,
    private readonly metadata: MetadataService,
    private readonly options: DistributionApiOptions,
    private readonly guard?: AccessGuard,
    private readonly metrics?: StevedoreMetrics,
    /** Counts manifest GETs per repository (the repository index's pull counts). */
    private readonly pulls?: { pulled(name: string): void },
  ) {}

  register(app: FastifyInstance): void {
    // Returning the reply tells Fastify the answer is (or will be) sent by us; an async handler that
    // resolves to undefined would otherwise race a streamed body with an empty one.
    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      await this.handle(req, reply);
      return reply;
    };
    app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'], url: '/v2', handler });
    app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'], url: '/v2/*', handler, exposeHeadRoute: false });
  }

  private async handle(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const url = req.url;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = req.query as Record<string, string | undefined>;
    const route = matchV2(path);
    // A bounded label for metrics and logs: the endpoint kind, never the raw path.
    (req as FastifyRequest & { routeLabel?: string }).routeLabel = `v2.${route?.kind ?? 'unknown'}`;
    let access: AccessRequest | undefined;
    try {
      if (!route) throw new RegistryError('NOT_FOUND', 'no such endpoint', { path });
      access = requiredAccess(route, req.method);
      if (this.guard) await this.guard.check(req, access);
      if ('name' in route) assertRepositoryName(route.name);
      await this.dispatch(route, req, reply, query);
    } catch (e) {
      const err = toRegistryError(e, this.logger);
      const extra =
        err.code === 'UNAUTHORIZED' && this.guard && access ? this.guard.challenge(challengeScopes(route, req.method, query, access)) : {};
      // HEAD too: Node sends no body for a HEAD, but the Content-Length of the error a GET would get
      // (as distribution does). Without one, Node's http client drops the connection after every
      // HEAD 404, so each "is this blob there?" of a push opened a new connection.
      sendRegistryError(reply, err, { ...API_VERSION, ...extra });
      // An unread request body must not wedge the connection.
      if (!req.raw.readableEnded) req.raw.resume();
    }
  }

  private async dispatch(
    route: V2Route,
    req: FastifyRequest,
    reply: FastifyReply,
    query: Record<string, string | undefined>,
  ): Promise<void> {
    const m = req.method;
    reply.headers(API_VERSION);
    switch (route.kind) {
      case 'base':
        if (m !== 'GET' && m !== 'HEAD') break;
        // HEAD gets the GET's Content-Length (Node sends no body for a HEAD), which keeps the connection open.
        reply.header('content-type', 'application/json').send('{}');
        return;
      case 'catalog': {
        if (m !== 'GET') break;
        const { n, last } = pageQuery(query);
        const page = await this.metadata.catalog(n, last);
        if (page.next) reply.header('link', `</v2/_catalog?n=${n}&last=${encodeURIComponent(page.next)}>; rel="next"`);
        reply.header('content-type', 'application/json').send(JSON.stringify({ repositories: page.items }));
        return;
      }
      case 'tags': {
        if (m !== 'GET') break;
        const { n, last } = pageQuery(query);
        const page = await this.metadata.listTags(route.name, n, last);
        if (page.next) reply.header('link', `</v2/${route.name}/tags/list?n=${n}&last=${encodeURIComponent(page.next)}>; rel="next"`);
        reply.header('content-type', 'application/json').send(JSON.stringify({ name: route.name, tags: page.items }));
        return;
      }
      case 'manifest':
        return this.manifest(route.name, route.reference, req, reply);
      case 'blob':
        return this.blob(route.name, parseDigest(route.digest), req, reply);
      case 'uploads':
        if (m !== 'POST') break;
        return this.startUpload(route.name, req, reply, query);
      case 'upload':
        return this.upload(route.name, route.id, req, reply, query);
      case 'referrers': {
        if (m !== 'GET') break;
        const subject = parseDigest(route.digest);
        const artifactType = query.artifactType;
        const manifests = await this.metadata.referrers(route.name, subject, artifactType);
        if (artifactType) reply.header('oci-filters-applied', 'artifactType');
        reply
          .header('content-type', MediaTypes.ociIndex)
          .send(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests })));
        return;
      }
    }
    throw new RegistryError('UNSUPPORTED', `${m} is not supported here`, undefined, 405);
  }

  private async manifest(name: string, reference: string, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    switch (req.method) {
      case 'GET':
      case 'HEAD': {
        const mf = await this.metadata.getManifest(manifestReference(name, reference));
        reply.headers({
          'content-type': mf.mediaType,
          'docker-content-digest': mf.digest,
          etag: `"${mf.digest}"`,
          'content-length': String(mf.size),
        });
        if (req.method === 'HEAD') reply.send();
        else {
          // A pull is a manifest GET (docker HEADs first, then GETs), as Docker Hub counts them.
          this.pulls?.pulled(name);
          reply.send(mf.bytes);
        }
        return;
      }
      case 'PUT': {
        const len = contentLength(req);
        if (len !== undefined && len > this.options.maxManifestBytes) {
          throw new RegistryError('MANIFEST_INVALID', `manifest exceeds ${this.options.maxManifestBytes} bytes`, { size: len }, 413);
        }
        const bytes = await readCapped(body(req), this.options.maxManifestBytes, 'MANIFEST_INVALID');
        const r = await this.metadata.putManifest(manifestReference(name, reference), bytes, header(req, 'content-type'));
        reply
          .code(201)
          .headers({ location: `/v2/${name}/manifests/${r.digest}`, 'docker-content-digest': r.digest, 'content-length': '0' });
        if (r.subject) reply.header('oci-subject', r.subject);
        reply.send();
        return;
      }
      case 'DELETE': {
        if (reference.includes(':')) await this.metadata.deleteManifest(name, parseDigest(reference));
        else await this.metadata.deleteTag(name, reference);
        reply.code(202).header('content-length', '0').send();
        return;
      }
    }
    throw new RegistryError('UNSUPPORTED', `${req.method} is not supported on manifests`, undefined, 405);
  }

  private async blob(name: string, digest: Digest, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    switch (req.method) {
      case 'HEAD': {
        const info = await this.blobs.stat(name, digest);
        if (!info) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
        reply
          .headers({
            'content-length': String(info.size),
            'docker-content-digest': digest,
            'content-type': 'application/octet-stream',
            'accept-ranges': 'bytes',
            etag: `"${digest}"`,
          })
          .send();
        return;
      }
      case 'GET': {
        let range = parseRange(header(req, 'range'));
        if (range && range.start < 0) {
          const info = await this.blobs.stat(name, digest);
          if (!info) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
          range = { start: Math.max(0, info.size + range.start), end: info.size - 1 };
        }
        const content = await this.blobs.open(name, digest, { range, allowRedirect: this.options.redirectBlobs });
        if (content.redirectUrl) {
          reply.code(307).headers({ location: content.redirectUrl, 'docker-content-digest': digest }).send();
          return;
        }
        const common = {
          'docker-content-digest': digest,
          'content-type': 'application/octet-stream',
          'accept-ranges': 'bytes',
          etag: `"${digest}"`,
        };
        if (content.range) {
          const { start, end } = content.range;
          reply.code(206).headers({
            ...common,
            'content-range': `bytes ${start}-${end}/${content.info.size}`,
            'content-length': String(end - start + 1),
          });
        } else {
          reply.headers({ ...common, 'content-length': String(content.info.size) });
        }
        this.metrics?.bytesPulled.inc(content.range ? content.range.end - content.range.start + 1 : content.info.size);
        if (content.bytes) {
          content.stream?.destroy();
          reply.send(content.bytes);
        } else if (content.stream instanceof FileRangeStream) await sendFileBody(reply, content.stream);
        else reply.send(content.stream);
        return;
      }
      case 'DELETE':
        await this.blobs.unlink(name, digest);
        reply.code(202).header('content-length', '0').send();
        return;
    }
    throw new RegistryError('UNSUPPORTED', `${req.method} is not supported on blobs`, undefined, 405);
  }

  private async withUpload<T>(fn: () => Promise<T>): Promise<T> {
    this.metrics?.uploadsInFlight.inc();
    try {
      return await fn();
    } finally {
      this.metrics?.uploadsInFlight.dec();
    }
  }

  private async startUpload(
    name: string,
    req: FastifyRequest,
    reply: FastifyReply,
    query: Record<string, string | undefined>,
  ): Promise<void> {
    if (query.mount) {
      const digest = parseDigest(query.mount);
      const from = query.from;
      if (from) {
        assertRepositoryName(from);
        // A mount needs pull on the source too. Without it (or with a token that does not cover
        // it) the spec's answer is an ordinary upload session, not an error: the client then
        // pushes the blob itself.
        const mayPull = !this.guard || (await this.guard.permits(req, { type: 'repository', name: from, actions: ['pull'] }));
        const info = mayPull ? await this.blobs.mount(name, from, digest) : undefined;
        if (info) {
          reply
            .code(201)
            .headers({ location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest, 'content-length': '0' })
            .send();
          return;
        }
      }
      // Not mountable: fall through to an ordinary upload session, as the spec says.
    }
    const status = await this.blobs.startUpload(name);
    if (query.digest) {
      const digest = parseDigest(query.digest);
      const info = await this.withUpload(() =>
        this.blobs.completeUpload(name, status.id, digest, countedBody(req, this.metrics), contentLength(req)),
      );
      reply
        .code(201)
        .headers({ location: `/v2/${name}/blobs/${info.digest}`, 'docker-content-digest': info.digest, 'content-length': '0' })
        .send();
      return;
    }
    reply
      .code(202)
      .headers({ ...uploadHeaders(name, status.id, 0), 'content-length': '0' })
      .send();
  }

  private async upload(
    name: string,
    id: string,
    req: FastifyRequest,
    reply: FastifyReply,
    query: Record<string, string | undefined>,
  ): Promise<void> {
    switch (req.method) {
      case 'GET': {
        const s = await this.blobs.uploadStatus(name, id);
        reply
          .code(204)
          .headers(uploadHeaders(name, id, s.offset))
          .send();
        return;
      }
      case 'PATCH': {
        const range = parseContentRange(header(req, 'content-range'));
        const s = await this.withUpload(() => this.blobs.appendChunk(name, id, countedBody(req, this.metrics), range, contentLength(req)));
        reply
          .code(202)
          .headers({ ...uploadHeaders(name, id, s.offset), 'content-length': '0' })
          .send();
        return;
      }
      case 'PUT': {
        if (!query.digest) throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required', undefined);
        const digest = parseDigest(query.digest);
        const len = contentLength(req);
        const hasBody = (len !== undefined && len > 0) || header(req, 'transfer-encoding') !== undefined;
        const info = await this.withUpload(() =>
          this.blobs.completeUpload(name, id, digest, hasBody ? countedBody(req, this.metrics) : undefined, hasBody ? len : undefined),
        );
        reply
          .code(201)
          .headers({ location: `/v2/${name}/blobs/${info.digest}`, 'docker-content-digest': info.digest, 'content-length': '0' })
          .send();
        return;
      }
      case 'DELETE':
        await this.blobs.cancelUpload(name, id);
        reply.code(204).send();
        return;
    }
    throw new RegistryError('UNSUPPORTED', `${req.method} is not supported on uploads`, undefined, 405);
  }
}
