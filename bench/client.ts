// bench/client.ts: the light /v2 client bench/light.ts and bench/mixed.ts share. undici's request()
// over one keep-alive Agent, so the client costs little next to the server: bodies are Buffers or
// lists of Buffers written as they are, and digests are computed with node:crypto (native sha256).
// Docker token auth: the first 401 of a scope is answered by fetching a token from the challenge's
// realm with Basic credentials (or Basic itself when that is what the registry asks), and a token is
// fetched again when a request with it answers 401 (tokens expire during long runs).
import { createHash, randomFillSync, type Hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';

export interface Options {
  url: string;
  user?: string;
  password?: string;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** A bad answer the run counts and goes on after (a wrong digest is not one of these: it throws DigestMismatch). */
export class RequestFailed extends Error {}
export class DigestMismatch extends Error {}

export const sha256 = (b: Buffer): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

const header = (h: Answer['headers'], name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Parse `Bearer realm="...",service="...",scope="..."` into its scheme and parameters. */
export function parseChallenge(value: string): { scheme: string; params: Record<string, string> } {
  const scheme = value.split(' ', 1)[0].toLowerCase();
  const params: Record<string, string> = {};
  for (const m of value.slice(scheme.length).matchAll(/(\w+)="([^"]*)"/g)) params[m[1]] = m[2];
  return { scheme, params };
}

/**
 * A blob whose bytes are a fixed random prefix and a counter in the last 16 bytes: every counter
 * value is a new digest, and the digest costs a hash of 16 bytes, not of the whole blob, because
 * the prefix's sha256 state is computed once and copied (Hash.copy) for each counter.
 */
export class CountedBlob {
  private readonly prefixHash: Hash;
  constructor(
    readonly prefix: Buffer,
    private readonly salt = Math.floor(Math.random() * 2 ** 32),
  ) {
    this.prefixHash = createHash('sha256').update(prefix);
  }
  static random(size: number): CountedBlob {
    if (size < 16) throw new Error('a counted blob needs at least 16 bytes');
    return new CountedBlob(randomBuffer(size - 16));
  }
  get size(): number {
    return this.prefix.length + 16;
  }
  /** The parts (prefix, 16-byte tail) and digest of the blob for counter n. */
  variant(n: number): { parts: Buffer[]; digest: string } {
    const tail = Buffer.alloc(16);
    tail.writeUInt32BE(this.salt, 0);
    tail.writeUInt32BE(process.pid, 4);
    tail.writeBigUInt64BE(BigInt(n), 8);
    const digest = 'sha256:' + this.prefixHash.copy().update(tail).digest('hex');
    return { parts: [this.prefix, tail], digest };
  }
}

/** Random bytes from the CSPRNG (about 1 GB/s here: a 256 MB blob is made in well under a second, outside any timing). */
export function randomBuffer(size: number): Buffer {
  return randomFillSync(Buffer.allocUnsafe(size));
}

export class Registry {
  readonly base: string;
  private readonly agent: Agent;
  private readonly headAgent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  private readonly tokens = new Map<string, string>();
  private basic?: string;
  /** Requests that answered other than expected (after one token refresh). */
  errors = 0;

  constructor(
    private readonly opts: Options,
    connections = 32,
  ) {
    this.base = opts.url.replace(/\/$/, '');
    if (!/^https?:\/\//.test(this.base)) this.base = 'http://' + this.base;
    this.agent = new Agent({ connections, keepAliveTimeout: 30_000, bodyTimeout: 600_000, headersTimeout: 600_000 });
  }

  close(): Promise<void> {
    this.headAgent.destroy();
    return this.agent.close();
  }

  /**
   * HEAD through node:http, not undici: undici closes the connection after every HEAD (it guards
   * against servers that send a body anyway), so each blob check would open a new connection, which
   * docker, skopeo and podman (Go's keep-alive pool) never do; a small push then measured mostly TCP
   * set-up, on both registries.
   */
  private head(
    url: URL,
    headers: Record<string, string>,
  ): Promise<{ statusCode: number; headers: Answer['headers']; body: Readable & { dump(): Promise<void> } }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { method: 'HEAD', headers, agent: this.headAgent }, (res) => {
        res.resume();
        const body = Object.assign(Readable.from([]), { dump: async () => undefined });
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** One request; `expect` lists the statuses that count as success. Body is read fully unless `sink` consumes it. */
  async send(
    method: string,
    pathOrUrl: string,
    opts: {
      scope: string;
      body?: Buffer | Buffer[];
      headers?: Record<string, string>;
      expect: number[];
      sink?: (chunk: Buffer) => void;
    },
  ): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      const url = new URL(pathOrUrl, this.base + '/');
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      const auth = this.tokens.get(opts.scope) ?? this.basic;
      if (auth) headers.authorization = auth;
      let body: Buffer | Readable | undefined;
      if (Array.isArray(opts.body)) {
        headers['content-length'] = String(opts.body.reduce((n, b) => n + b.length, 0));
        // A stream of the parts as they are: no concatenated copy of a 256 MB blob per push.
        body = Readable.from(opts.body, { objectMode: false });
      } else if (opts.body) {
        headers['content-length'] = String(opts.body.length);
        body = opts.body;
      } else if (method === 'PUT' || method === 'PATCH' || method === 'POST') headers['content-length'] = '0';
      const r = await (
        method === 'HEAD' ? this.head(url, headers) : request(url, { method: method as 'GET', headers, body, dispatcher: this.agent })
      ).catch((e: Error) => {
        this.errors++;
        throw new RequestFailed(`${method} ${url.pathname}: ${e.message}`);
      });
      if (r.statusCode === 401 && attempt === 0) {
        await r.body.dump();
        await this.authenticate(header(r.headers, 'www-authenticate') ?? '', opts.scope);
        continue;
      }
      // A redirect to storage (S3_REDIRECT) is followed without our credentials.
      if (r.statusCode === 307 && method === 'GET' && !opts.expect.includes(307)) {
        await r.body.dump();
        const loc = header(r.headers, 'location')!;
        const r2 = await request(new URL(loc, url), { method: 'GET', dispatcher: this.agent });
        return this.finish(method, url, r2.statusCode, r2.headers, r2.body, opts);
      }
      return this.finish(method, url, r.statusCode, r.headers, r.body, opts);
    }
  }

  private async finish(
    method: string,
    url: URL,
    status: number,
    headers: Answer['headers'],
    stream: AsyncIterable<Buffer> & { dump(): Promise<void> },
    opts: { expect: number[]; sink?: (chunk: Buffer) => void },
  ): Promise<Answer> {
    const ok = opts.expect.includes(status);
    const chunks: Buffer[] = [];
    if (ok && opts.sink) for await (const c of stream) opts.sink(c);
    else for await (const c of stream) chunks.push(c);
    const body = Buffer.concat(chunks);
    if (!ok) {
      this.errors++;
      throw new RequestFailed(`${method} ${url.pathname}: ${status} ${body.toString().slice(0, 200)}`);
    }
    return { status, headers, body };
  }

  private async authenticate(challenge: string, scope: string): Promise<void> {
    const { scheme, params } = parseChallenge(challenge);
    const creds =
      this.opts.user !== undefined ? Buffer.from(`${this.opts.user}:${this.opts.password ?? ''}`).toString('base64') : undefined;
    if (scheme === 'basic') {
      if (!creds) throw new Error('the registry asks for Basic auth: give --user and --password');
      this.basic = `Basic ${creds}`;
      return;
    }
    if (scheme !== 'bearer' || !params.realm) throw new Error(`unknown challenge: ${challenge}`);
    const realm = new URL(params.realm);
    realm.searchParams.set('scope', scope);
    if (params.service) realm.searchParams.set('service', params.service);
    const r = await request(realm, { headers: creds ? { authorization: `Basic ${creds}` } : {}, dispatcher: this.agent });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`token from ${realm.origin}${realm.pathname}: ${r.statusCode} ${text.slice(0, 200)}`);
    const j = JSON.parse(text) as { token?: string; access_token?: string };
    const token = j.token ?? j.access_token;
    if (!token) throw new Error(`no token in the answer of ${realm.origin}${realm.pathname}`);
    this.tokens.set(scope, `Bearer ${token}`);
  }

  /** GET /v2/ and fetch the token for `scope` now, so no timed request (nor a 256 MB body) meets the first 401. */
  async login(scope: string): Promise<void> {
    const r = await request(`${this.base}/v2/`, { dispatcher: this.agent });
    await r.body.dump();
    if (r.statusCode === 401) await this.authenticate(header(r.headers, 'www-authenticate') ?? '', scope);
    else if (r.statusCode !== 200) throw new Error(`GET ${this.base}/v2/ answered ${r.statusCode}`);
  }

  // ---- the /v2 steps

  /** POST an upload session; resolves to its Location. */
  async startUpload(repo: string): Promise<string> {
    const r = await this.send('POST', `/v2/${repo}/blobs/uploads/`, { scope: pushScope(repo), expect: [202] });
    return header(r.headers, 'location')!;
  }

  /** Monolithic: POST, then one PUT ?digest= with the whole body. */
  async putBlob(repo: string, parts: Buffer[], digest: string): Promise<void> {
    const loc = await this.startUpload(repo);
    await this.send('PUT', withDigest(loc, digest), {
      scope: pushScope(repo),
      body: parts,
      headers: { 'content-type': 'application/octet-stream' },
      expect: [201],
    });
  }

  /** Chunked: POST, PATCH each chunk with Content-Range (following each Location), PUT ?digest= with no body. */
  async putBlobChunked(repo: string, data: Buffer, digest: string, chunkSize: number): Promise<void> {
    let loc = await this.startUpload(repo);
    for (let off = 0; off < data.length; off += chunkSize) {
      const chunk = data.subarray(off, Math.min(off + chunkSize, data.length));
      const r = await this.send('PATCH', loc, {
        scope: pushScope(repo),
        body: chunk,
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${off}-${off + chunk.length - 1}` },
        expect: [202],
      });
      loc = header(r.headers, 'location') ?? loc;
    }
    await this.send('PUT', withDigest(loc, digest), { scope: pushScope(repo), expect: [201] });
  }

  /** HEAD a blob: true when present. */
  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const r = await this.send('HEAD', `/v2/${repo}/blobs/${digest}`, { scope: pushScope(repo), expect: [200, 404] });
    return r.status === 200;
  }

  /** GET a blob streamed through sha256; throws DigestMismatch when the bytes are not the digest's. Resolves to the byte count. */
  async getBlobChecked(repo: string, digest: string, scope = pushScope(repo)): Promise<number> {
    const h = createHash('sha256');
    let n = 0;
    await this.send('GET', `/v2/${repo}/blobs/${digest}`, {
      scope,
      expect: [200],
      sink: (c) => {
        h.update(c);
        n += c.length;
      },
    });
    const got = 'sha256:' + h.digest('hex');
    if (got !== digest) throw new DigestMismatch(`GET /v2/${repo}/blobs/${digest}: ${n} bytes with digest ${got}`);
    return n;
  }

  async putManifest(repo: string, ref: string, manifest: Buffer): Promise<void> {
    await this.send('PUT', `/v2/${repo}/manifests/${ref}`, {
      scope: pushScope(repo),
      body: manifest,
      headers: { 'content-type': OCI_MANIFEST },
      expect: [201],
    });
  }

  async getManifest(repo: string, ref: string, scope = pushScope(repo)): Promise<Buffer> {
    const r = await this.send('GET', `/v2/${repo}/manifests/${ref}`, { scope, headers: { accept: OCI_MANIFEST }, expect: [200] });
    return r.body;
  }
}

export const pushScope = (repo: string): string => `repository:${repo}:pull,push`;

function withDigest(loc: string, digest: string): string {
  return `${loc}${loc.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/** An OCI image manifest naming one config and the given layers. */
export function imageManifest(config: { digest: string; size: number }, layers: Array<{ digest: string; size: number }>): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, ...config },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER, ...l })),
    }),
  );
}

/** A small image config; `label` makes it unique. */
export function imageConfig(label: string): Buffer {
  return Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { bench: label } }, rootfs: { type: 'layers', diff_ids: [] } }),
  );
}

// ---- command-line and figures

/** The usage text of a script: its leading comment block, without the comment marks. */
export function usageOf(file: string): string {
  const lines = readFileSync(file, 'utf8').split('\n');
  const head = lines.slice(
    0,
    lines.findIndex((l) => !l.startsWith('//')),
  );
  return head.map((l) => l.replace(/^\/\/ ?/, '')).join('\n');
}

/** `--name value` flags after one positional URL; unknown flags are an error. */
export function parseArgs(argv: string[], defaults: Record<string, string>, usage: string): { url: string; flags: Record<string, string> } {
  const fail = (why: string): never => {
    process.stderr.write(`${why}\n\n${usage}\n`);
    process.exit(2);
  };
  if (argv.length < 1 || argv[0].startsWith('-')) fail('a registry URL is needed first');
  const flags = { ...defaults };
  for (let i = 1; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!argv[i].startsWith('--') || !(name in defaults) || i + 1 >= argv.length) fail(`bad flag: ${argv[i]}`);
    flags[name] = argv[i + 1];
  }
  if ((flags.user === '') !== (flags.password === '')) fail('--user and --password go together');
  return { url: argv[0], flags };
}

export function wholeNumber(flags: Record<string, string>, name: string, min = 0): number {
  const n = Number(flags[name]);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be a whole number >= ${min}, not ${flags[name]}\n`);
    process.exit(2);
  }
  return n;
}

export function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The q-quantile (0..1) by nearest rank. */
export function quantile(xs: number[], q: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export const MiB = 1 << 20;
export const log = (tool: string, msg: string): void => void process.stderr.write(`${tool}: ${msg}\n`);
export const metric = (name: string, value: number, unit: string): void =>
  void process.stdout.write(`${name} ${!Number.isFinite(value) ? '0' : unit === 'count' ? String(value) : value.toFixed(2)} ${unit}\n`);
