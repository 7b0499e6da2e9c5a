// A tiny /v2 client for the e2e tests, speaking plain HTTP so every header and status is visible.
import { createHash } from 'node:crypto';

export const sha256 = (b: Buffer | string): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

/**
 * JSON a test reads without a schema: it reads the fields it asserts on, and expect() is the check.
 * The shapes of /api/v1 answers are checked against the API contract once, for every route, in
 * libs/server/test/contract.e2e-spec.ts. This is the one `any` tests keep, named so it can be found.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type UncheckedJson = any;

export interface Resp {
  status: number;
  headers: Headers;
  body: Buffer;
  json<T = UncheckedJson>(): T;
}

const credentialsByBase = new Map<string, string>();

/** Send Basic credentials on every request to `base` (the harness sets the admin's); null clears. */
export function useCredentials(base: string, creds: { user: string; password: string } | null): void {
  if (creds) credentialsByBase.set(base, 'Basic ' + Buffer.from(`${creds.user}:${creds.password}`).toString('base64'));
  else credentialsByBase.delete(base);
}

export async function http(
  base: string,
  method: string,
  path: string,
  body?: Buffer | string,
  headers: Record<string, string> = {},
): Promise<Resp> {
  const auth = credentialsByBase.get(base);
  const h = auth && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization') ? { authorization: auth, ...headers } : headers;
  const r = await fetch(base + path, { method, body, headers: h, redirect: 'manual' });
  const buf = Buffer.from(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, body: buf, json: () => JSON.parse(buf.toString()) };
}

export function errorCode(r: Resp): string | undefined {
  try {
    return r.json().errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/** Monolithic push: POST then PUT with the whole body. */
export async function pushBlob(base: string, name: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const post = await http(base, 'POST', `/v2/${name}/blobs/uploads/`);
  if (post.status !== 202) throw new Error(`POST upload: ${post.status} ${post.body}`);
  const loc = post.headers.get('location')!;
  const sep = loc.includes('?') ? '&' : '?';
  const put = await http(base, 'PUT', `${loc}${sep}digest=${digest}`, data, {
    'content-type': 'application/octet-stream',
    'content-length': String(data.length),
  });
  if (put.status !== 201) throw new Error(`PUT upload: ${put.status} ${put.body}`);
  return digest;
}

export interface PushedImage {
  config: { digest: string; size: number; bytes: Buffer };
  layers: Array<{ digest: string; size: number; bytes: Buffer }>;
  manifest: Buffer;
  digest: string;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** Build an OCI image manifest over pushed blobs (layer bytes are opaque to the registry). */
export async function pushImage(
  base: string,
  name: string,
  tag: string,
  opts: { layers?: Buffer[]; subject?: { digest: string; size: number; mediaType: string }; artifactType?: string } = {},
): Promise<PushedImage> {
  const configBytes = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} }),
  );
  const cfg = { digest: await pushBlob(base, name, configBytes), size: configBytes.length, bytes: configBytes };
  const layers = [];
  for (const l of opts.layers ?? [Buffer.from(`layer of ${name}:${tag} ${Math.random()}`)]) {
    layers.push({ digest: await pushBlob(base, name, l), size: l.length, bytes: l });
  }
  const manifestObj: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: opts.artifactType ? 'application/vnd.oci.empty.v1+json' : 'application/vnd.oci.image.config.v1+json',
      digest: cfg.digest,
      size: cfg.size,
    },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  };
  if (opts.artifactType) manifestObj.artifactType = opts.artifactType;
  if (opts.subject) manifestObj.subject = opts.subject;
  const manifest = Buffer.from(JSON.stringify(manifestObj));
  const put = await http(base, 'PUT', `/v2/${name}/manifests/${tag}`, manifest, { 'content-type': OCI_MANIFEST });
  if (put.status !== 201) throw new Error(`PUT manifest: ${put.status} ${put.body}`);
  return { config: cfg, layers, manifest, digest: sha256(manifest) };
}

/**
 * Pull by tag over /v2: the manifest, then every blob it names, each checked against its digest.
 * Returns the manifest digest, or what failed.
 */
export async function pullWhole(
  base: string,
  name: string,
  tag: string,
  accept = OCI_MANIFEST,
): Promise<{ ok: true; digest: string } | { ok: false; digest?: string; why: string }> {
  const m = await http(base, 'GET', `/v2/${name}/manifests/${tag}`, undefined, { accept });
  if (m.status !== 200) return { ok: false, why: `manifest ${m.status}` };
  const digest = sha256(m.body);
  const manifest = JSON.parse(m.body.toString());
  for (const desc of [manifest.config, ...manifest.layers]) {
    const b = await http(base, 'GET', `/v2/${name}/blobs/${desc.digest}`);
    if (b.status !== 200) return { ok: false, digest, why: `blob ${desc.digest} ${b.status}` };
    if (sha256(b.body) !== desc.digest) return { ok: false, digest, why: `blob ${desc.digest} corrupt` };
  }
  return { ok: true, digest };
}
