// HTTP to one Stevedore server with Docker's token dance: a request answered 401 with
// `WWW-Authenticate: Bearer realm,service[,scope]` gets a token from the realm (Basic credentials
// from config.json), then is sent again; a `Basic` challenge is answered with the credentials.
// Tokens live in memory for this run only.
import type { Readable } from 'node:stream';
import type * as Undici from 'undici';
import type { Dispatcher } from 'undici';
import type { Server } from './args';
import type { Credentials } from './config-file';
import { CliError, errorFromResponse } from './errors';
import { parseChallenges, type Challenge } from '@stevedore/oci';

// undici is a third of the bundle and most of a start's time: it is loaded by the first request,
// so `--version`, `--help` and usage errors never read it.
let undiciModule: Promise<typeof Undici> | undefined;

/** undici, loaded on first use. */
export function undici(): Promise<typeof Undici> {
  return (undiciModule ??= import('undici'));
}

/** Closes the keep-alive sockets, which would hold the process open for seconds; nothing if no request was made. */
export async function closeConnections(): Promise<void> {
  if (!undiciModule) return;
  const { getGlobalDispatcher } = await undiciModule;
  await getGlobalDispatcher()
    .destroy()
    .catch(() => undefined);
}

export type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface RequestOptions {
  method?: Dispatcher.HttpMethod;
  query?: Query;
  json?: unknown;
  /** A body that can be made again (a 401 on the first try re-sends it). */
  body?: () => Readable | Buffer;
  headers?: Record<string, string>;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

const USER_AGENT = 'stevedore-cli/0.1';

export function buildUrl(base: string, path: string, query?: Query): string {
  const u = new URL(base + path);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) u.searchParams.append(k, String(item));
  }
  return u.toString();
}

export function basicHeader(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64');
}

export class HttpClient {
  /** The Authorization header that last worked; sent up front so most requests need one round trip. */
  private current?: string;
  private readonly tokens = new Map<string, string>();

  constructor(
    readonly server: Server,
    private readonly credentials?: Credentials,
  ) {
    // Stored credentials go up front: some routes answer anonymous callers too (public
    // repositories), so waiting for a 401 would show a signed-in user the anonymous view.
    if (credentials) this.current = basicHeader(credentials);
  }

  get hasCredentials(): boolean {
    return !!this.credentials;
  }

  /** Sends a request; answers with any status (callers check). Retries once after authenticating. */
  async send(path: string, opts: RequestOptions = {}): Promise<RawResponse> {
    let res = await this.once(path, opts, this.current);
    if (res.status !== 401) return res;
    const header = res.headers['www-authenticate'];
    const text = await res.body.text().catch(() => '');
    const auth = await this.authorize(parseChallenges(header));
    if (!auth || auth === this.current) {
      throw this.unauthorized(text);
    }
    res = await this.once(path, opts, auth);
    if (res.status === 401) throw this.unauthorized(await res.body.text().catch(() => ''));
    this.current = auth;
    return res;
  }

  /** Sends and expects 2xx; the body is parsed as JSON (empty body: undefined), for the caller to check. */
  async json(path: string, opts: RequestOptions = {}): Promise<unknown> {
    const res = await this.send(path, opts);
    const text = await res.body.text();
    if (res.status < 200 || res.status >= 300) throw errorFromResponse(res.status, text);
    return text ? JSON.parse(text) : undefined;
  }

  /** Sends and expects 2xx; the body stays a stream for the caller. */
  async stream(path: string, opts: RequestOptions = {}): Promise<RawResponse> {
    const res = await this.send(path, opts);
    if (res.status < 200 || res.status >= 300) throw errorFromResponse(res.status, await res.body.text());
    return res;
  }

  /**
   * Before a streamed upload, learn the Authorization header with a cheap GET, so the upload is not
   * refused half-way and sent twice.
   */
  async prime(path = '/api/v1/images?n=1'): Promise<void> {
    if (this.current || !this.credentials) return;
    const res = await this.send(path).catch(() => undefined);
    await res?.body.dump().catch(() => undefined);
  }

  private unauthorized(text: string): CliError {
    const e = text ? errorFromResponse(401, text) : undefined;
    const message = this.credentials
      ? `the server refused the stored credentials for ${this.server.key}${e ? `: ${e.message}` : ''}`
      : `authentication required by ${this.server.key}`;
    return new CliError(
      message,
      'UNAUTHORIZED',
      this.credentials ? 'run `stevedore login` again' : `run \`stevedore login ${this.server.key}\``,
      1,
      401,
    );
  }

  private async once(path: string, opts: RequestOptions, auth: string | undefined): Promise<RawResponse> {
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...(opts.headers ?? {}) };
    if (auth) headers['authorization'] = auth;
    let body: string | Buffer | Readable | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.body) {
      headers['content-type'] ??= 'application/octet-stream';
      body = opts.body();
    }
    const { request } = await undici();
    const res = await request(buildUrl(this.server.url, path, opts.query), {
      method: opts.method ?? 'GET',
      headers,
      body,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  }

  /** An Authorization header answering one of the challenges, or undefined when none can be answered. */
  private async authorize(challenges: Challenge[]): Promise<string | undefined> {
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params['realm']);
    if (bearer) return this.bearer(bearer.params['realm'], bearer.params['service'], bearer.params['scope']);
    if (this.credentials && (challenges.some((c) => c.scheme === 'basic') || challenges.length === 0)) return basicHeader(this.credentials);
    return undefined;
  }

  private async bearer(realm: string, service?: string, scope?: string): Promise<string> {
    const key = `${realm}|${service ?? ''}|${scope ?? ''}`;
    const cached = this.tokens.get(key);
    if (cached) return cached;
    const token = await fetchToken(realm, this.credentials, { service, scope });
    const header = `Bearer ${token}`;
    this.tokens.set(key, header);
    return header;
  }
}

/** Docker's token request: GET realm?service=&scope=&account= with Basic credentials (none for anonymous). */
export async function fetchToken(
  realm: string,
  credentials: Credentials | undefined,
  p: { service?: string; scope?: string },
): Promise<string> {
  const url = buildUrl(realm, '', { service: p.service, scope: p.scope, account: credentials?.username });
  const headers: Record<string, string> = { 'user-agent': USER_AGENT };
  if (credentials) headers['authorization'] = basicHeader(credentials);
  const { request } = await undici();
  const res = await request(url, { headers });
  const text = await res.body.text();
  if (res.statusCode === 401 || res.statusCode === 403) {
    const e = errorFromResponse(res.statusCode, text);
    throw new CliError(
      credentials ? `wrong username or password for ${new URL(realm).host}` : `authentication required by ${new URL(realm).host}`,
      e.code === 'DENIED' ? 'DENIED' : 'UNAUTHORIZED',
      credentials ? 'check them and run `stevedore login` again' : 'run `stevedore login`',
      1,
      res.statusCode,
    );
  }
  if (res.statusCode < 200 || res.statusCode >= 300) throw errorFromResponse(res.statusCode, text);
  const body = JSON.parse(text) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new CliError(`the token service at ${realm} answered without a token`, 'UNAUTHORIZED');
  return token;
}
