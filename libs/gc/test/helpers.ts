// Helpers of the GC e2e tests: the admin API, waiting for runs, pulling an image whole, metrics.
import { http, pullWhole, type StevedoreUnderTest, type UncheckedJson } from '@stevedore/testing';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export function api(sut: StevedoreUnderTest, method: string, path: string, body?: unknown) {
  return http(
    sut.url,
    method,
    path,
    body === undefined ? undefined : JSON.stringify(body),
    body === undefined ? {} : { 'content-type': 'application/json' },
  );
}

export async function runGc(sut: StevedoreUnderTest, body: Record<string, unknown> = {}): Promise<UncheckedJson> {
  const r = await api(sut, 'POST', '/api/v1/gc', body);
  if (r.status !== 202) throw new Error(`POST /api/v1/gc: ${r.status} ${r.body}`);
  const id = r.json().id;
  for (let i = 0; i < 1200; i++) {
    const s = (await api(sut, 'GET', `/api/v1/gc/runs/${id}`)).json();
    if (s.state === 'completed') return s.result;
    if (s.state === 'failed') throw new Error(`gc run failed: ${JSON.stringify(s.error)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('gc run did not finish');
}

/** Pull by tag, each blob checked against its digest (libs/testing pullWhole). */
export function pull(sut: StevedoreUnderTest, name: string, tag: string) {
  return pullWhole(sut.url, name, tag);
}

export async function tagDigest(sut: StevedoreUnderTest, name: string, tag: string): Promise<string | undefined> {
  const r = await http(sut.url, 'HEAD', `/v2/${name}/manifests/${tag}`, undefined, { accept: OCI_MANIFEST });
  return r.status === 200 ? (r.headers.get('docker-content-digest') ?? undefined) : undefined;
}

/** Sum of a counter's samples whose labels include every given label. */
export async function metric(sut: StevedoreUnderTest, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await http(sut.url, 'GET', '/metrics')).body.toString();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\w+)(?:\{([^}]*)\})?\s+([\d.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
