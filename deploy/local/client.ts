// A small undici client of the rig's front door for load and checks: every answer's status is seen,
// a pull verifies every byte against its digest, and the one retry a client is documented to make
// (503 with Retry-After, while Redis fails over) is made and recorded, never any other.
import { createHash } from 'node:crypto';
import { Agent, request } from 'undici';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ACCEPT = [OCI_MANIFEST, 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.index.v1+json'].join(', ');
export const sha256 = (b: Buffer | string): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A request that got no HTTP answer, or an answer a client must not retry. */
export class Failed extends Error {}

export interface Retry {
  at: number;
  method: string;
  path: string;
  status: number;
  retryAfter: string;
  /** Who answered: HAProxy (no replica ready) or the platform itself. */
  from: 'load balancer' | 'platform';
}

export class RigClient {
  readonly agent = new Agent({ connections: 32, keepAliveTimeout: 4000, headersTimeout: 60_000, bodyTimeout: 60_000 });
  /** Every 503 + Retry-After this client waited out and retried. */
  readonly retries: Retry[] = [];
  private readonly auth: string;

  constructor(
    readonly base: string,
    admin: { user: string; password: string },
  ) {
    this.auth = 'Basic ' + Buffer.from(`${admin.user}:${admin.password}`).toString('base64');
  }

  /** One request; no retry at all. Throws Failed when no answer came (reset, refused, timeout). */
  async once(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Answer> {
    try {
      const r = await request(this.base + path, {
        method: method as 'GET',
        body,
        headers: { authorization: this.auth, ...headers },
        dispatcher: this.agent,
      });
      const chunks: Buffer[] = [];
      for await (const c of r.body) chunks.push(c as Buffer);
      return { status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks) };
    } catch (e) {
      throw new Failed(`${method} ${path}: no answer (${(e as Error).message})`);
    }
  }

  /** As once(), but a 503 with Retry-After is waited out (up to `maxWaitMs` in all) and sent again. */
  async call(
    method: string,
    path: string,
    body?: Buffer | string,
    headers: Record<string, string> = {},
    maxWaitMs = 60_000,
  ): Promise<Answer> {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const a = await this.once(method, path, body, headers);
      const after = a.headers['retry-after'];
      if (a.status !== 503 || typeof after !== 'string' || Date.now() > deadline) return a;
      const from = a.body.toString().includes('(load balancer)') ? 'load balancer' : 'platform';
      this.retries.push({ at: Date.now(), method, path, status: a.status, retryAfter: after, from });
      await new Promise((r) => setTimeout(r, Math.min(5, Number(after) || 1) * 1000));
    }
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
    const a = await this.call(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      body === undefined ? {} : { 'content-type': 'application/json' },
    );
    let json: T;
    try {
      json = JSON.parse(a.body.toString()) as T;
    } catch {
      throw new Failed(`${method} ${path}: ${a.status} ${a.body.toString().slice(0, 300)}`);
    }
    return { status: a.status, json };
  }

  /** Pull by tag: the manifest (its digest checked against `expect` when given), then every blob, each checked. */
  async pull(repository: string, ref: string, expect?: string): Promise<string> {
    const m = await this.call('GET', `/v2/${repository}/manifests/${ref}`, undefined, { accept: ACCEPT });
    if (m.status !== 200) throw new Failed(`pull ${repository}:${ref}: manifest ${m.status} ${m.body.toString().slice(0, 200)}`);
    const digest = sha256(m.body);
    if (expect && digest !== expect) throw new Failed(`pull ${repository}:${ref}: manifest ${digest}, expected ${expect}`);
    const manifest = JSON.parse(m.body.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
    for (const d of [manifest.config, ...manifest.layers]) {
      const b = await this.call('GET', `/v2/${repository}/blobs/${d.digest}`);
      if (b.status !== 200) throw new Failed(`pull ${repository}:${ref}: blob ${d.digest} ${b.status}`);
      if (sha256(b.body) !== d.digest) throw new Failed(`pull ${repository}:${ref}: blob ${d.digest} read back as ${sha256(b.body)}`);
    }
    return digest;
  }

  /** Monolithic blob upload (POST ?digest=). */
  async pushBlob(repository: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const a = await this.call('POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, data, {
      'content-type': 'application/octet-stream',
    });
    if (a.status !== 201) throw new Failed(`push blob to ${repository}: ${a.status} ${a.body.toString().slice(0, 200)}`);
    return digest;
  }

  /** A one-layer image of `layer`; resolves to the manifest digest once the registry acknowledged the tag. */
  async pushImage(repository: string, tag: string, layer: Buffer): Promise<{ digest: string; manifest: Buffer }> {
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} }),
    );
    const configDigest = await this.pushBlob(repository, config);
    const layerDigest = await this.pushBlob(repository, layer);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
      }),
    );
    return { digest: await this.putManifest(repository, tag, manifest), manifest };
  }

  async putManifest(repository: string, ref: string, manifest: Buffer): Promise<string> {
    const a = await this.call('PUT', `/v2/${repository}/manifests/${ref}`, manifest, { 'content-type': OCI_MANIFEST });
    if (a.status !== 201) throw new Failed(`PUT manifest ${repository}:${ref}: ${a.status} ${a.body.toString().slice(0, 200)}`);
    const digest = sha256(manifest);
    if (a.headers['docker-content-digest'] !== digest) throw new Failed(`PUT manifest ${repository}:${ref}: answered another digest`);
    return digest;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
