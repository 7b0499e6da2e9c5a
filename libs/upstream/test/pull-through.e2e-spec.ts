// Upstreams against real registries: Debian's docker-registry as the upstream (behind a counting
// proxy that also plays a token-protected registry: 401 + Bearer challenge + /token), and a second
// one with htpasswd (Basic) auth as the push/replicate target. Stevedore runs as a real process.
import type { Upstream } from '@stevedore/api-contract';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import {
  flushEverywhere,
  http,
  openTestRedis,
  pushImage,
  startReferenceRegistry,
  startStevedore,
  waitFor,
  type StevedoreUnderTest,
  type UncheckedJson,
} from '@stevedore/testing';
import { startCountingProxy, type CountingProxy } from './counting-proxy';
import { startHtpasswdRegistry, type HtpasswdRegistry } from './htpasswd-registry';
import { writeImageLayout, writeIndexLayout } from './oci-layout';

jest.setTimeout(300_000);
const run = promisify(execFile);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'upstream-e2e-'));
const policy = path.join(tmp, 'policy.json');
writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function skopeo(...args: string[]): Promise<string> {
  const { stdout } = await run('skopeo', ['--policy', policy, ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}
const hostOf = (url: string) => new URL(url).host;

async function api(base: string, method: string, p: string, body?: unknown) {
  const r = await fetch(base + p, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

async function waitForJob(base: string, id: string): Promise<UncheckedJson> {
  let last: UncheckedJson;
  await waitFor(async () => {
    last = (await api(base, 'GET', `/api/v1/replications/${id}`)).body;
    if (last.state === 'failed') throw new Error(`replication failed: ${last.error?.message}`);
    return last.state === 'completed';
  }, 120_000);
  return last;
}

describe('upstreams: pull-through and replication', () => {
  let upstream: { url: string; stop(): Promise<void> };
  let proxy: CountingProxy;
  let target: HtpasswdRegistry;
  let s: StevedoreUnderTest;
  let base: string;
  const digests: Record<string, string> = {};
  const creds = { username: 'hub-user', password: 'hub-pass' };

  beforeAll(async () => {
    upstream = await startReferenceRegistry();
    const up = hostOf(upstream.url);
    for (const [name, make] of [
      ['busybox', (d: string) => writeImageLayout(d, 'latest', 3)],
      ['big', (d: string) => writeImageLayout(d, 'latest', 1, 3 * 1024 * 1024)],
      ['multi', (d: string) => writeIndexLayout(d, 'latest')],
    ] as const) {
      const dir = path.join(tmp, `layout-${name}`);
      digests[name] = await make(dir);
      await skopeo('copy', '--all', `oci:${dir}:latest`, `docker://${up}/library/${name}:latest`, '--dest-tls-verify=false');
    }
    proxy = await startCountingProxy(upstream.url, creds);
    target = await startHtpasswdRegistry();
    // The upstream is shut down on purpose: a never-cached image then answers 503 (UNAVAILABLE).
    s = await startStevedore({ extraEnv: { STEVEDORE_AUTH: 'false', STEVEDORE_UPSTREAM_MANIFEST_TTL_SECONDS: '1' }, allow5xx: true });
    base = s.url;
    const created = await api(base, 'POST', '/api/v1/upstreams', {
      id: 'hub',
      url: proxy.url,
      prefixes: ['docker.io'],
      default: true,
      ...creds,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'hub', hasPassword: true, username: 'hub-user' });
    expect(JSON.stringify(created.body)).not.toContain('hub-pass');
    const t = await api(base, 'POST', '/api/v1/upstreams', {
      id: 'backup',
      url: target.url,
      username: target.username,
      password: target.password,
    });
    expect(t.status).toBe(201);
  });

  // The platform last: its stop() throws on an unexpected 5xx, and a helper left running after that
  // keeps jest from ever exiting.
  afterAll(async () => {
    await proxy?.close();
    await upstream?.stop();
    await target?.stop();
    await s?.stop();
  });

  it('keeps upstream passwords sealed at rest', () => {
    const stored = readFileSync(path.join(s.env.STEVEDORE_DATA_DIR, 'storage', 'upstreams', 'hub.json'), 'utf8');
    expect(stored).not.toContain('hub-pass');
    expect(JSON.parse(stored).passwordSealed).toMatch(/^v1:/);
  });

  it('pulls a missing multi-layer image through (token auth upstream) with identical digests', async () => {
    const out = path.join(tmp, 'pulled-busybox');
    await skopeo('copy', '--src-tls-verify=false', `docker://${hostOf(base)}/docker.io/library/busybox:latest`, `oci:${out}:latest`);
    const index = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(digests.busybox);
    const head = await http(base, 'HEAD', '/v2/docker.io/library/busybox/manifests/latest');
    expect(head.headers.get('docker-content-digest')).toBe(digests.busybox);
    // The token protocol ran: a token was fetched, and the upstream saw authorised requests.
    expect(proxy.count('GET', '/token')).toBeGreaterThanOrEqual(1);
  });

  it('maps short names to the default upstream (library/busybox)', async () => {
    const r = await http(base, 'GET', '/v2/library/busybox/manifests/latest', undefined, {
      accept: 'application/vnd.oci.image.manifest.v1+json',
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-content-digest')).toBe(digests.busybox);
  });

  it('pulls an index through, children and all', async () => {
    const out = path.join(tmp, 'pulled-multi');
    await skopeo('copy', '--all', '--src-tls-verify=false', `docker://${hostOf(base)}/docker.io/library/multi:latest`, `oci:${out}:latest`);
    const index = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(digests.multi);
  });

  it('fetches a missing blob from upstream once under concurrent GETs', async () => {
    const m = await http(base, 'GET', '/v2/docker.io/library/big/manifests/latest');
    expect(m.status).toBe(200);
    const layer = m.json().layers[0];
    const before = proxy.count('GET', `/v2/library/big/blobs/${layer.digest}`);
    const got = await Promise.all(Array.from({ length: 8 }, () => http(base, 'GET', `/v2/docker.io/library/big/blobs/${layer.digest}`)));
    for (const r of got) {
      expect(r.status).toBe(200);
      expect(r.body.length).toBe(layer.size);
    }
    expect(new Set(got.map((r) => r.body.toString('base64').length)).size).toBe(1);
    expect(proxy.count('GET', `/v2/library/big/blobs/${layer.digest}`) - before).toBe(1);
    // And now it is served from here.
    const again = await http(base, 'GET', `/v2/docker.io/library/big/blobs/${layer.digest}`);
    expect(again.status).toBe(200);
    expect(proxy.count('GET', `/v2/library/big/blobs/${layer.digest}`) - before).toBe(1);
  });

  it('serves the cached image when the upstream is down', async () => {
    await new Promise((r) => setTimeout(r, 1200)); // past the 1 s tag TTL: a revalidation is due
    await upstream.stop(); // the proxy now answers 502
    const r = await http(base, 'GET', '/v2/docker.io/library/busybox/manifests/latest');
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-content-digest')).toBe(digests.busybox);
    await proxy.close(); // and now refuses connections
    await new Promise((r) => setTimeout(r, 1200));
    const out = path.join(tmp, 'pulled-again');
    await skopeo('copy', '--src-tls-verify=false', `docker://${hostOf(base)}/docker.io/library/busybox:latest`, `oci:${out}:latest`);
    expect(JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')).manifests[0].digest).toBe(digests.busybox);
    // Something never cached is an error, not a hang.
    const miss = await http(base, 'GET', '/v2/docker.io/library/nothing/manifests/latest');
    expect(miss.status).toBeGreaterThanOrEqual(400);
  });

  it('replicates an image to a registry with credentials (chunked + monolithic uploads, then mounts)', async () => {
    const big = randomBytes(9 * 1024 * 1024); // above the 8 MiB chunk size: PATCH chunks
    const img = await pushImage(base, 'team/app', 'v1', { layers: [big, Buffer.from('small layer')] });
    const job = await api(base, 'POST', '/api/v1/replications', {
      source: 'team/app:v1',
      target: { upstream: 'backup', name: 'team/app', tag: 'v1' },
    });
    expect(job.status).toBe(202);
    const done = await waitForJob(base, job.body.id);
    expect(done.result.digest).toBe(img.digest);
    expect(done.result.blobs.uploaded).toBe(3);
    expect(done.progress).toMatchObject({ phase: 'done', blobs: { done: 3, total: 3 } });
    const inspect = JSON.parse(
      await skopeo(
        'inspect',
        '--tls-verify=false',
        '--creds',
        `${target.username}:${target.password}`,
        `docker://${target.host}/team/app:v1`,
      ),
    );
    expect(inspect.Digest).toBe(img.digest);

    const copy = await api(base, 'POST', '/api/v1/replications', {
      source: 'team/app:v1',
      target: { upstream: 'backup', name: 'team/app-copy', tag: 'v1' },
    });
    const done2 = await waitForJob(base, copy.body.id);
    expect(done2.result.blobs.mounted).toBe(3);
  });

  it('replicates a pulled-through index to the target', async () => {
    const job = await api(base, 'POST', '/api/v1/replications', {
      source: 'docker.io/library/multi:latest',
      target: { upstream: 'backup', name: 'library/multi' },
    });
    const done = await waitForJob(base, job.body.id);
    expect(done.result.digest).toBe(digests.multi);
    const raw = await skopeo(
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      `${target.username}:${target.password}`,
      `docker://${target.host}/library/multi:latest`,
    );
    expect(JSON.parse(raw).manifests).toHaveLength(2);
  });

  it('a replication rule copies every new matching tag', async () => {
    const rule = await api(base, 'POST', '/api/v1/replication-rules', {
      sourcePattern: 'rules/**:v*',
      target: { upstream: 'backup', repository: 'mirror/{name}' },
    });
    expect(rule.status).toBe(201);
    const img = await pushImage(base, 'rules/app', 'v2');
    await pushImage(base, 'rules/app', 'dev'); // does not match :v*
    let digest = '';
    await waitFor(async () => {
      try {
        digest = JSON.parse(
          await skopeo(
            'inspect',
            '--tls-verify=false',
            '--creds',
            `${target.username}:${target.password}`,
            `docker://${target.host}/mirror/rules/app:v2`,
          ),
        ).Digest;
        return true;
      } catch {
        return false;
      }
    }, 60_000);
    expect(digest).toBe(img.digest);
    const tags = await fetch(`${target.url}/v2/mirror/rules/app/tags/list`, {
      headers: { authorization: 'Basic ' + Buffer.from(`${target.username}:${target.password}`).toString('base64') },
    });
    expect(((await tags.json()) as { tags: string[] }).tags).toEqual(['v2']);
  });

  it('manages upstreams: validation, conflicts, delete', async () => {
    expect((await api(base, 'POST', '/api/v1/upstreams', { url: 'ftp://x' })).status).toBe(400);
    expect((await api(base, 'POST', '/api/v1/upstreams', { url: 'https://quay.example', prefixes: ['docker.io'] })).status).toBe(409);
    const q = await api(base, 'POST', '/api/v1/upstreams', { id: 'quay', url: 'https://quay.example', prefixes: ['quay.io'] });
    expect(q.status).toBe(201);
    expect((await api(base, 'GET', '/api/v1/upstreams')).body.upstreams.map((u: Upstream) => u.id)).toEqual(['backup', 'hub', 'quay']);
    expect((await api(base, 'DELETE', '/api/v1/upstreams/quay')).status).toBe(204);
    expect((await api(base, 'GET', '/api/v1/upstreams/quay')).status).toBe(404);
  });
});

// Which tags are the upstream's is durable: after Redis is flushed and `reindex` run, a pulled-through
// tag is still revalidated against the upstream, and a tag pushed here over one is still ours.
describe('upstream origins survive a Redis loss', () => {
  let upstream: { url: string; stop(): Promise<void> };
  let proxy: CountingProxy;
  let s: StevedoreUnderTest;
  const digests: Record<string, string> = {};
  const manifestPath = (name: string) => `/v2/library/${name}/manifests/latest`;
  const originFile = (name: string) =>
    path.join(s.env.STEVEDORE_DATA_DIR, 'storage', 'upstream-origins', 'docker.io', 'library', name, '_tags', 'latest');
  const asked = (name: string) => proxy.count('HEAD', manifestPath(name)) + proxy.count('GET', manifestPath(name));

  beforeAll(async () => {
    upstream = await startReferenceRegistry();
    for (const name of ['cached', 'shadowed']) {
      const dir = path.join(tmp, `origins-${name}`);
      digests[name] = await writeImageLayout(dir, 'latest', 1);
      await skopeo('copy', `oci:${dir}:latest`, `docker://${hostOf(upstream.url)}/library/${name}:latest`, '--dest-tls-verify=false');
    }
    proxy = await startCountingProxy(upstream.url);
    s = await startStevedore({ extraEnv: { STEVEDORE_AUTH: 'false', STEVEDORE_UPSTREAM_MANIFEST_TTL_SECONDS: '1' } });
    expect(
      (await api(s.url, 'POST', '/api/v1/upstreams', { id: 'hub', url: proxy.url, prefixes: ['docker.io'], default: true })).status,
    ).toBe(201);
  });

  afterAll(async () => {
    await proxy?.close();
    await upstream?.stop();
    await s?.stop();
  });

  it('a pulled-through tag is revalidated after FLUSHALL + reindex; a tag pushed here over one is not', async () => {
    for (const name of ['cached', 'shadowed']) {
      const r = await http(s.url, 'HEAD', `/v2/docker.io/library/${name}/manifests/latest`);
      expect(r.headers.get('docker-content-digest')).toBe(digests[name]);
    }
    const mine = await pushImage(s.url, 'docker.io/library/shadowed', 'latest');
    expect(mine.digest).not.toBe(digests.shadowed);
    // Every master on a cluster (STEVEDORE_TEST_REDIS=cluster).
    const redis = await openTestRedis(s.redisUrl);
    await flushEverywhere(redis).finally(() => redis.quit());
    await s.reindex();
    await new Promise((r) => setTimeout(r, 1200)); // past the 1 s tag TTL
    const before = { cached: asked('cached'), shadowed: asked('shadowed') };
    const cached = await http(s.url, 'HEAD', '/v2/docker.io/library/cached/manifests/latest');
    expect(cached.headers.get('docker-content-digest')).toBe(digests.cached);
    const shadowed = await http(s.url, 'HEAD', '/v2/docker.io/library/shadowed/manifests/latest');
    expect(shadowed.headers.get('docker-content-digest')).toBe(mine.digest);
    expect({ cached: asked('cached') - before.cached, shadowed: asked('shadowed') - before.shadowed }).toEqual({ cached: 1, shadowed: 0 });
    // The claim is in storage, for the pulled-through tag only.
    expect(existsSync(originFile('cached'))).toBe(true);
    expect(JSON.parse(readFileSync(originFile('cached'), 'utf8'))).toMatchObject({ upstream: 'hub', remoteName: 'library/cached' });
    expect(existsSync(originFile('shadowed'))).toBe(false);
  });
});
