// A client of another registry's /v2 API, as docker, skopeo and crane speak it: the token protocol
// (401 + `WWW-Authenticate: Bearer realm,service` -> token fetch with scopes -> retry; or Basic),
// content negotiation for manifests, blob GETs that follow redirects to storage without our
// credentials, and uploads monolithic or chunked, with cross-repo mount where the registry offers it.
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { MediaTypes, RegistryError, digestAlgorithm, digestOf, isDigest, type Digest, type ErrorCode, readCapped } from '@stevedore/oci';
import { parseChallenges, repositoryScope, type Challenge } from '@stevedore/oci';
import type { UpstreamCredentials } from './upstream';

export const MANIFEST_ACCEPT = [MediaTypes.ociIndex, MediaTypes.ociManifest, MediaTypes.dockerManifestList, MediaTypes.dockerManifest].join(
  ', ',
);

export interface RemoteManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export interface RemoteBlob {
  stream: Readable;
  /** From Content-Length; undefined when the registry did not say. */
  size?: number;
}

export interface RemoteRegistryOptions {
  /** Largest manifest accepted from the registry. */
  maxManifestBytes?: number;
  /** Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size. */
  chunkSize?: number;
  userAgent?: string;
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

type Body = Buffer | undefined;

interface SendOptions {
  scopes: string[];
  headers?: Record<string, string>;
  body?: Body;
  /** Absolute URL instead of base + path. */
  url?: string;
}

export type PushBlobResult = 'exists' | 'mounted' | 'uploaded';

export class RemoteRegistry {
  readonly base: string;
  private readonly agent: Agent;
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private basic = false;
  private readonly opts: Required<Pick<RemoteRegistryOptions, 'maxManifestBytes' | 'chunkSize' | 'userAgent'>>;

  constructor(
    url: string,
    private readonly credentials?: UpstreamCredentials,
    options: RemoteRegistryOptions = {},
  ) {
    this.base = url.replace(/\/+$/, '');
    this.opts = {
      maxManifestBytes: options.maxManifestBytes ?? 4 * 1024 * 1024,
      chunkSize: options.chunkSize ?? 8 * 1024 * 1024,
      userAgent: options.userAgent ?? 'stevedore',
    };
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connect: { timeout: options.connectTimeoutMs ?? 10_000 },
      headersTimeout: options.headersTimeoutMs ?? 30_000,
      bodyTimeout: options.bodyTimeoutMs ?? 120_000,
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  // ---- reading

  async getManifest(name: string, reference: string): Promise<RemoteManifest> {
    const res = await this.send('GET', `/v2/${name}/manifests/${reference}`, {
      scopes: [repositoryScope(name, ['pull'])],
      headers: { accept: MANIFEST_ACCEPT },
    });
    if (res.statusCode !== 200) throw await this.fail(res, 'MANIFEST_UNKNOWN', { name, reference });
    const bytes = await readCapped(res.body, this.opts.maxManifestBytes, 'SIZE_INVALID', 'the manifest');
    const mediaType = bareType(res.headers['content-type']) ?? sniffMediaType(bytes);
    const digest = isDigest(reference) ? digestOf(bytes, digestAlgorithm(reference)) : digestOf(bytes);
    if (isDigest(reference) && digest !== reference) {
      throw new RegistryError('DIGEST_INVALID', 'upstream manifest does not match its digest', { name, reference });
    }
    return { bytes, mediaType, digest };
  }

  /** Digest and media type of a manifest without its body (HEAD is not counted by Docker Hub's pull limit). */
  async headManifest(name: string, reference: string): Promise<{ digest?: Digest; mediaType?: string } | undefined> {
    const res = await this.send('HEAD', `/v2/${name}/manifests/${reference}`, {
      scopes: [repositoryScope(name, ['pull'])],
      headers: { accept: MANIFEST_ACCEPT },
    });
    if (res.statusCode === 404) {
      await res.body.dump();
      return undefined;
    }
    if (res.statusCode !== 200) throw await this.fail(res, 'MANIFEST_UNKNOWN', { name, reference });
    await res.body.dump();
    const d = header(res, 'docker-content-digest');
    return { digest: isDigest(d) ? d : undefined, mediaType: bareType(res.headers['content-type']) };
  }

  async headBlob(name: string, digest: Digest): Promise<number | undefined> {
    const res = await this.send('HEAD', `/v2/${name}/blobs/${digest}`, { scopes: [repositoryScope(name, ['pull'])] });
    await res.body.dump();
    if (res.statusCode === 404) return undefined;
    if (res.statusCode >= 300 && res.statusCode < 400) return undefined;
    if (res.statusCode !== 200) throw await this.fail(res, 'BLOB_UNKNOWN', { name, digest });
    const len = Number(header(res, 'content-length'));
    return Number.isSafeInteger(len) ? len : undefined;
  }

  async getBlob(name: string, digest: Digest): Promise<RemoteBlob> {
    let res = await this.send('GET', `/v2/${name}/blobs/${digest}`, { scopes: [repositoryScope(name, ['pull'])] });
    // Registries hand blobs to a CDN or presigned storage URL; those must not see our credentials.
    for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 5; hops++) {
      const location = header(res, 'location');
      await res.body.dump();
      if (!location) break;
      const target = new URL(location, this.base + `/v2/${name}/blobs/${digest}`).toString();
      res = await this.raw('GET', target, {});
    }
    if (res.statusCode !== 200) throw await this.fail(res, 'BLOB_UNKNOWN', { name, digest });
    const len = Number(header(res, 'content-length'));
    return { stream: res.body, size: Number.isSafeInteger(len) ? len : undefined };
  }

  // ---- writing

  /**
   * Make `digest` present in `name`: nothing when it is there, a cross-repo mount from `mountFrom`
   * when the registry offers it, else an upload (one PUT, or PATCH chunks then PUT).
   */
  async pushBlob(
    name: string,
    digest: Digest,
    size: number,
    open: () => Promise<Readable>,
    mountFrom?: string,
    onBytes?: (n: number) => void,
  ): Promise<PushBlobResult> {
    if ((await this.headBlob(name, digest)) !== undefined) return 'exists';
    const push = repositoryScope(name, ['pull', 'push']);
    let location: string;
    if (mountFrom && mountFrom !== name) {
      const res = await this.send(
        'POST',
        `/v2/${name}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}`,
        {
          scopes: [push, repositoryScope(mountFrom, ['pull'])],
          headers: { 'content-length': '0' },
        },
      );
      await res.body.dump();
      if (res.statusCode === 201) return 'mounted';
      if (res.statusCode !== 202) throw await this.fail(res, 'BLOB_UPLOAD_INVALID', { name, digest });
      location = this.location(res, name);
    } else {
      location = await this.startUpload(name);
    }
    const source = await open();
    try {
      if (size <= this.opts.chunkSize) {
        const body = await readCapped(source, size, 'SIZE_INVALID', 'the blob');
        await this.finishUpload(name, location, digest, body);
        onBytes?.(body.length);
      } else {
        let offset = 0;
        for await (const chunk of chunks(source, this.opts.chunkSize)) {
          const res = await this.send('PATCH', '', {
            url: location,
            scopes: [push],
            body: chunk,
            headers: {
              'content-type': 'application/octet-stream',
              'content-range': `${offset}-${offset + chunk.length - 1}`,
              'content-length': String(chunk.length),
            },
          });
          await res.body.dump();
          if (res.statusCode !== 202) throw await this.fail(res, 'BLOB_UPLOAD_INVALID', { name, digest, offset });
          location = this.location(res, name);
          offset += chunk.length;
          onBytes?.(chunk.length);
        }
        await this.finishUpload(name, location, digest, undefined);
      }
    } finally {
      source.destroy();
    }
    return 'uploaded';
  }

  async putManifest(name: string, reference: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const res = await this.send('PUT', `/v2/${name}/manifests/${reference}`, {
      scopes: [repositoryScope(name, ['pull', 'push'])],
      body: bytes,
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
    });
    await res.body.dump();
    if (res.statusCode !== 201 && res.statusCode !== 200) throw await this.fail(res, 'MANIFEST_INVALID', { name, reference });
    const d = header(res, 'docker-content-digest');
    return isDigest(d) ? d : digestOf(bytes);
  }

  private async startUpload(name: string): Promise<string> {
    const res = await this.send('POST', `/v2/${name}/blobs/uploads/`, {
      scopes: [repositoryScope(name, ['pull', 'push'])],
      headers: { 'content-length': '0' },
    });
    await res.body.dump();
    if (res.statusCode !== 202) throw await this.fail(res, 'BLOB_UPLOAD_INVALID', { name });
    return this.location(res, name);
  }

  private async finishUpload(name: string, location: string, digest: Digest, body: Buffer | undefined): Promise<void> {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    const headers: Record<string, string> = { 'content-length': String(body?.length ?? 0) };
    if (body) headers['content-type'] = 'application/octet-stream';
    const res = await this.send('PUT', '', { url: u.toString(), scopes: [repositoryScope(name, ['pull', 'push'])], body, headers });
    await res.body.dump();
    if (res.statusCode !== 201) throw await this.fail(res, 'BLOB_UPLOAD_INVALID', { name, digest });
  }

  private location(res: Dispatcher.ResponseData, name: string): string {
    const loc = header(res, 'location');
    if (!loc) throw new RegistryError('BLOB_UPLOAD_INVALID', 'upstream gave no upload location', { name });
    return new URL(loc, this.base + '/').toString();
  }

  // ---- the token protocol

  private async send(method: Dispatcher.HttpMethod, path: string, o: SendOptions): Promise<Dispatcher.ResponseData> {
    const url = o.url ?? this.base + path;
    const first = await this.raw(method, url, { ...o.headers, ...this.authHeader(o.scopes) }, o.body);
    if (first.statusCode !== 401) return first;
    const challenges = parseChallenges(first.headers['www-authenticate']);
    await first.body.dump();
    await this.authenticate(challenges, o.scopes);
    const second = await this.raw(method, url, { ...o.headers, ...this.authHeader(o.scopes) }, o.body);
    if (second.statusCode === 401) {
      await second.body.dump();
      throw new RegistryError('UNAUTHORIZED', 'upstream refused the credentials', { upstream: this.host() });
    }
    return second;
  }

  private authHeader(scopes: string[]): Record<string, string> {
    const t = this.tokens.get(scopes.join(' '));
    if (t && t.expiresAt > Date.now()) return { authorization: `Bearer ${t.token}` };
    if (this.basic && this.credentials) return { authorization: basicAuth(this.credentials) };
    return {};
  }

  private async authenticate(challenges: Challenge[], scopes: string[]): Promise<void> {
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      const u = new URL(bearer.params.realm);
      if (bearer.params.service) u.searchParams.set('service', bearer.params.service);
      for (const s of scopes) u.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (this.credentials) headers.authorization = basicAuth(this.credentials);
      const res = await this.raw('GET', u.toString(), headers);
      if (res.statusCode !== 200) {
        await res.body.dump();
        if (res.statusCode === 429)
          throw new RegistryError('TOOMANYREQUESTS', 'upstream token service rate-limited us', { upstream: this.host() });
        throw new RegistryError('UNAUTHORIZED', `upstream token service answered ${res.statusCode}`, { upstream: this.host() });
      }
      const body = (await res.body.json()) as { token?: string; access_token?: string; expires_in?: number };
      const token = body.token ?? body.access_token;
      if (!token) throw new RegistryError('UNAUTHORIZED', 'upstream token service gave no token', { upstream: this.host() });
      // Renew a little early; the spec's default lifetime is 60 s.
      const ttl = Math.max(10, (body.expires_in ?? 60) - 5);
      this.tokens.set(scopes.join(' '), { token, expiresAt: Date.now() + ttl * 1000 });
      return;
    }
    if (challenges.some((c) => c.scheme === 'basic') && this.credentials) {
      this.basic = true;
      return;
    }
    throw new RegistryError('UNAUTHORIZED', 'upstream requires authentication we cannot give', {
      upstream: this.host(),
      schemes: challenges.map((c) => c.scheme),
    });
  }

  private async raw(
    method: Dispatcher.HttpMethod,
    url: string,
    headers: Record<string, string>,
    body?: Body,
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await request(url, { method, headers: { 'user-agent': this.opts.userAgent, ...headers }, body, dispatcher: this.agent });
    } catch (e) {
      throw new RegistryError('UNAVAILABLE', `upstream ${this.host()} unreachable: ${(e as Error).message}`, { upstream: this.host() });
    }
  }

  private host(): string {
    return new URL(this.base).host;
  }

  private async fail(res: Dispatcher.ResponseData, notFound: ErrorCode, detail: Record<string, unknown>): Promise<RegistryError> {
    const text = await res.body.text().catch(() => '');
    const s = res.statusCode;
    const d = { ...detail, upstream: this.host(), status: s };
    if (s === 404) return new RegistryError(notFound, `${notFound === 'MANIFEST_UNKNOWN' ? 'manifest' : 'blob'} unknown to upstream`, d);
    if (s === 429) return new RegistryError('TOOMANYREQUESTS', 'upstream rate limit reached', d);
    if (s === 401) return new RegistryError('UNAUTHORIZED', 'upstream refused the credentials', d);
    if (s === 403) return new RegistryError('DENIED', 'upstream denied access', d);
    if (s >= 500) return new RegistryError('UNAVAILABLE', `upstream answered ${s}`, d);
    let code: ErrorCode = notFound === 'MANIFEST_UNKNOWN' || notFound === 'MANIFEST_INVALID' ? 'MANIFEST_INVALID' : 'BLOB_UPLOAD_INVALID';
    try {
      const first = (JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> }).errors?.[0];
      if (first?.code === 'MANIFEST_BLOB_UNKNOWN' || first?.code === 'DIGEST_INVALID' || first?.code === 'NAME_INVALID') code = first.code;
      return new RegistryError(code, `upstream: ${first?.message ?? s}`, d, s >= 400 && s < 500 ? 502 : undefined);
    } catch {
      return new RegistryError(code, `upstream answered ${s}`, d, 502);
    }
  }
}

function header(res: Dispatcher.ResponseData, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function bareType(v: string | string[] | undefined): string | undefined {
  const s = (Array.isArray(v) ? v[0] : v)?.split(';')[0].trim();
  return s && s !== 'application/json' && s !== 'text/plain' ? s : undefined;
}

function sniffMediaType(bytes: Buffer): string {
  try {
    const j = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
    return j.mediaType ?? (j.manifests ? MediaTypes.ociIndex : MediaTypes.ociManifest);
  } catch {
    return MediaTypes.ociManifest;
  }
}

function basicAuth(c: UpstreamCredentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
}

/** Re-chunk a stream into buffers of exactly `size` bytes (the last may be shorter). */
export async function* chunks(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let have = 0;
  for await (const c of stream) {
    let buf = c as Buffer;
    while (have + buf.length >= size) {
      const take = size - have;
      parts.push(buf.subarray(0, take));
      yield Buffer.concat(parts, size);
      buf = buf.subarray(take);
      parts = [];
      have = 0;
    }
    if (buf.length) {
      parts.push(buf);
      have += buf.length;
    }
  }
  if (have) yield Buffer.concat(parts, have);
}
