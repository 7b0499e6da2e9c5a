// The internal HTTP protocol between split services: a shared bearer token, JSON or streamed
// bodies, and errors carried as the OCI envelope so RegistryError crosses the wire intact.
import { timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { RegistryError } from '@stevedore/oci';
import type { FastifyRequest } from 'fastify';
import { REQUEST_ID_HEADER, currentRequestId } from './request-context';

export const INTERNAL_PREFIX = '/internal/v1';

/** A header's value equals a secret, compared in constant time (a missing header never does). */
export function secretMatches(header: string | string[] | undefined, secret: string): boolean {
  const got = Buffer.from(String(header ?? ''));
  const want = Buffer.from(secret);
  return got.length === want.length && timingSafeEqual(got, want);
}

export function checkInternalToken(req: FastifyRequest, token: string | undefined): void {
  if (token && !secretMatches(req.headers['x-stevedore-internal-token'], token)) {
    throw new RegistryError('UNAUTHORIZED', 'internal API token missing or wrong');
  }
}

export interface InternalCall {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  body?: Readable | Buffer;
  headers?: Record<string, string>;
}

export interface InternalResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { json(): Promise<unknown>; text(): Promise<string>; arrayBuffer(): Promise<ArrayBuffer> };
}

/** Errors of the connection itself (undici's and the socket's codes), as opposed to the request's. */
const CONNECTION_LOST = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * The callee could not be reached, or the connection was lost before its answer (a replica killed
 * or restarting, a load balancer in front with no replica ready, or one that cut the connection).
 * Nothing is wrong with the caller's request, and another replica will take it: 503 with
 * Retry-After, as for a Redis outage, rather than a 500 the client would not retry.
 */
function unreachable(why: string): RegistryError {
  return new RegistryError('UNAVAILABLE', `an internal service is unreachable (${why}); retry shortly`, { retryAfterSeconds: 1 }, 503);
}

/** A small client for one internal service; keeps connections alive across calls. */
export class InternalClient {
  private readonly agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });
  constructor(
    private readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  async call(c: InternalCall): Promise<InternalResponse> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(c.query ?? {})) if (v !== undefined) qs.set(k, String(v));
    const url = `${this.baseUrl.replace(/\/$/, '')}${INTERNAL_PREFIX}${c.path}${qs.size ? '?' + qs : ''}`;
    const headers: Record<string, string> = { ...(c.headers ?? {}) };
    if (this.token) headers['x-stevedore-internal-token'] = this.token;
    const requestId = currentRequestId();
    if (requestId) headers[REQUEST_ID_HEADER] = requestId;
    let body: Readable | Buffer | string | undefined = c.body;
    if (c.json !== undefined) {
      body = JSON.stringify(c.json);
      headers['content-type'] = 'application/json';
    } else if (c.body) headers['content-type'] = 'application/octet-stream';
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, { method: c.method, headers, body, dispatcher: this.agent });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code && CONNECTION_LOST.has(code)) throw unreachable(code);
      throw e;
    }
    if (res.statusCode >= 400) {
      const text = await res.body.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text.slice(0, 200);
      }
      // 502-504 without our envelope came from a proxy in between (a Kubernetes Service has none, a
      // load balancer may), not from the service: it could not reach a replica.
      const envelope = !!(parsed as { errors?: unknown } | undefined)?.errors;
      if (!envelope && res.statusCode >= 502 && res.statusCode <= 504) throw unreachable(`${res.statusCode} from a proxy`);
      throw RegistryError.fromEnvelope(res.statusCode, parsed);
    }
    // Cast: undici's body type is its own BodyReadable; InternalResponse names the methods callers use, which it has.
    return { status: res.statusCode, headers: res.headers, body: res.body as unknown as InternalResponse['body'] };
  }

  async json<T>(c: InternalCall): Promise<T> {
    const r = await this.call(c);
    return (r.status === 204 ? undefined : await r.body.json()) as T;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
