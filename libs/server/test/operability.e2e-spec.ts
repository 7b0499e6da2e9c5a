// What an operator sees: metrics that move by the right amounts after a push, a request id in every
// log line of one push across split services, /readyz following Redis down and up, and the OpenAPI
// document listing the management routes and nothing else.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { apiRoutes, type ApiRoute } from '@stevedore/api-contract';
import { buildLayout, http, policyFile, pushBlob, pushImage, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';

jest.setTimeout(180_000);

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

describe('operability (all-in-one)', () => {
  let s: StevedoreUnderTest;
  beforeAll(async () => {
    s = await startStevedore();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('counts pushed and pulled bytes and requests by route', async () => {
    const before = (await http(s.url, 'GET', '/metrics')).body.toString();
    const data = randomBytes(123_457);
    const d = await pushBlob(s.url, 'ops/metrics', data);
    await http(s.url, 'GET', `/v2/ops/metrics/blobs/${d}`);
    const after = (await http(s.url, 'GET', '/metrics')).body.toString();
    expect(metric(after, 'stevedore_bytes_pushed_total') - metric(before, 'stevedore_bytes_pushed_total')).toBe(data.length);
    expect(metric(after, 'stevedore_bytes_pulled_total') - metric(before, 'stevedore_bytes_pulled_total')).toBe(data.length);
    const blobGets = (t: string) => metric(t, 'stevedore_http_requests_total', { route: 'v2.blob', method: 'GET', status: '200' });
    expect(blobGets(after) - blobGets(before)).toBe(1);
    const puts = (t: string) => metric(t, 'stevedore_http_requests_total', { route: 'v2.upload', method: 'PUT', status: '201' });
    expect(puts(after) - puts(before)).toBe(1);
    // An upload's bytes: a whole body written beside the blob's place on the filesystem (writeChecked),
    // chunks appended in place (writeAt), streamed to an object elsewhere (writeStream).
    const writes = (op: string) => metric(after, 'stevedore_storage_operations_total', { operation: op, outcome: 'ok' });
    expect(writes('writeChecked') + writes('writeAt') + writes('writeStream')).toBeGreaterThan(0);
    expect(after).toContain('stevedore_http_request_duration_seconds_bucket');
    expect(metric(after, 'stevedore_dependency_round_trip_seconds', { dependency: 'redis', service: 'all' })).toBeGreaterThan(0);
  });

  it('counts a commit job and its outcome', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ops-commit-'));
    try {
      const base = buildLayout(path.join(dir, 'base'), 'base', [{ 'bin/sh': 'placeholder' }]);
      const creds = `${s.admin.user}:${s.admin.password}`;
      await promisify(execFile)('skopeo', [
        '--policy',
        policyFile(dir),
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        creds,
        `oci:${base.dir}:base`,
        `docker://${s.url.replace('http://', '')}/ops/base:1`,
      ]);
      const before = (await http(s.url, 'GET', '/metrics')).body.toString();
      const created = await http(s.url, 'POST', '/api/v1/containers', JSON.stringify({ image: 'ops/base:1' }), {
        'content-type': 'application/json',
      });
      expect(created.status).toBe(201);
      const id = created.json().id;
      expect(
        (
          await http(s.url, 'PUT', `/api/v1/containers/${id}/files?path=/motd`, Buffer.from('hi'), {
            'content-type': 'application/octet-stream',
          })
        ).status,
      ).toBe(201);
      const job = await http(s.url, 'POST', '/api/v1/commits', JSON.stringify({ container: id, reference: 'ops/committed:1' }), {
        'content-type': 'application/json',
      });
      expect([200, 202]).toContain(job.status);
      const jobId = job.json().id;
      let state = '';
      for (let i = 0; i < 600 && state !== 'completed' && state !== 'failed'; i++) {
        state = (await http(s.url, 'GET', `/api/v1/jobs/${jobId}`)).json().state;
        if (state !== 'completed') await new Promise((r) => setTimeout(r, 100));
      }
      expect(state).toBe('completed');
      const after = (await http(s.url, 'GET', '/metrics')).body.toString();
      expect(
        metric(after, 'stevedore_commits_total', { outcome: 'completed' }) -
          metric(before, 'stevedore_commits_total', { outcome: 'completed' }),
      ).toBe(1);
      expect(
        metric(after, 'stevedore_jobs_total', { queue: 'commit', outcome: 'completed' }) -
          metric(before, 'stevedore_jobs_total', { queue: 'commit', outcome: 'completed' }),
      ).toBe(1);
      expect(
        metric(after, 'stevedore_job_duration_seconds_count', { queue: 'commit' }) -
          metric(before, 'stevedore_job_duration_seconds_count', { queue: 'commit' }),
      ).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('/readyz goes not-ready when Redis stops and ready when it returns', async () => {
    expect((await http(s.url, 'GET', '/readyz')).status).toBe(200);
    await s.stopRedis();
    const down = await http(s.url, 'GET', '/readyz');
    expect(down.status).toBe(503);
    expect(JSON.stringify(down.json())).toContain('redis');
    expect((await http(s.url, 'GET', '/healthz')).status).toBe(200);
    await s.startRedis();
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await http(s.url, 'GET', '/readyz')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(200);
  });

  it('serves the queue dashboard to admins only', async () => {
    expect((await fetch(`${s.url}/admin/queues`)).status).toBe(401);
    const asUser = await http(s.url, 'POST', '/api/v1/users', JSON.stringify({ name: 'opsuser', password: 'opsuser-password' }), {
      'content-type': 'application/json',
    });
    expect(asUser.status).toBe(201);
    const denied = await fetch(`${s.url}/admin/queues`, {
      headers: { authorization: 'Basic ' + Buffer.from('opsuser:opsuser-password').toString('base64') },
    });
    expect(denied.status).toBe(403);
    const page = await http(s.url, 'GET', '/admin/queues');
    expect(page.status).toBe(200);
    const api = await http(s.url, 'GET', '/admin/queues/api/queues');
    expect(api.status).toBe(200);
    const names = (api.json().queues as Array<{ name: string }>).map((q) => q.name).sort();
    expect(names).toEqual(['commit', 'consistency', 'export', 'gc', 'import', 'replicate']);
  });

  it('documents every management route under /api/v1 and nothing else', async () => {
    const r = await http(s.url, 'GET', '/api/docs-json');
    expect(r.status).toBe(200);
    const doc = r.json();
    const paths = Object.keys(doc.paths);
    for (const p of paths) expect(p.startsWith('/api/v1/')).toBe(true);
    expect(paths.some((p) => p.startsWith('/v2') || p.startsWith('/internal') || p === '/metrics' || p === '/healthz')).toBe(false);
    // The checked-in spec (docs/openapi.json, regenerated by libs/server/test/write-openapi.ts)
    // is the live one: same routes, same methods.
    const routes = (d: { paths: Record<string, Record<string, unknown>> }) =>
      Object.entries(d.paths)
        .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
        .sort();
    const checkedIn = JSON.parse(readFileSync(path.resolve(__dirname, '../../../docs/openapi.json'), 'utf8'));
    expect(routes(doc)).toEqual(routes(checkedIn));
    // The API contract names exactly the served routes, and the document carries its shapes:
    // every JSON body and answer, the success status, and errors as the OCI envelope.
    const contract: ApiRoute[] = Object.values(apiRoutes);
    expect(routes(doc)).toEqual(contract.map((c) => `${c.method} ${c.path}`).sort());
    for (const c of contract) {
      const op = doc.paths[c.path][c.method.toLowerCase()];
      const shapes = {
        route: `${c.method} ${c.path}`,
        body: !!op.requestBody?.content?.['application/json']?.schema,
        answer: !!op.responses[String(c.status)]?.content?.['application/json']?.schema,
        error: op.responses.default?.content?.['application/json']?.schema?.$ref,
      };
      expect(shapes).toEqual({ route: shapes.route, body: !!c.body, answer: !!c.response, error: '#/components/schemas/ErrorEnvelope' });
    }
    expect(doc.components.schemas.ErrorEnvelope).toMatchObject({ type: 'object', required: ['errors'] });
    expect(doc.paths['/api/v1/users'].post.requestBody.content['application/json'].schema).toMatchObject({
      required: ['name', 'password'],
    });
    expect(doc.paths['/api/v1/upstreams/{id}'].put.requestBody.content['application/json'].schema).toMatchObject({ required: ['url'] });
    expect(checkedIn.paths['/api/v1/upstreams'].post.requestBody).toEqual(doc.paths['/api/v1/upstreams'].post.requestBody);
    // And every documented route is served: the router knows it (a domain 404 is fine, "Cannot GET" is not).
    for (const route of routes(doc)) {
      const [method, p] = route.split(' ');
      const r = await http(
        s.url,
        method,
        p.replace(/\{[^}]+\}/g, 'nonexistent'),
        method === 'GET' || method === 'DELETE' ? undefined : '{}',
        { 'content-type': 'application/json' },
      );
      const message = r.status === 404 ? String(r.json().errors?.[0]?.message ?? '') : '';
      expect({ route, unrouted: message.startsWith('Cannot ') }).toEqual({ route, unrouted: false });
    }
  });
});

describe('operability (split)', () => {
  let s: StevedoreUnderTest;
  beforeAll(async () => {
    s = await startStevedore({ wiring: 'split', extraEnv: { LOG_LEVEL: 'info' } });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('carries one request id through the gateway into the services it calls', async () => {
    await pushImage(s.url, 'ops/base', 'v1');
    const id = `push-${randomBytes(6).toString('hex')}`;
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.empty.v1+json',
          digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
          size: 2,
        },
        layers: [],
      }),
    );
    await pushBlob(s.url, 'ops/trace', Buffer.from('{}'));
    const r = await http(s.url, 'PUT', '/v2/ops/trace/manifests/t1', manifest, {
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
      'x-request-id': id,
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('x-request-id')).toBe(id);
    // A manifest PUT reaches metadata-service only (the gateway and metadata-service store bytes
    // themselves); a blob DELETE reaches blob-service, which owns the links. Both under the same id.
    const spare = await pushBlob(s.url, 'ops/trace', randomBytes(64));
    const d = await http(s.url, 'DELETE', `/v2/ops/trace/blobs/${spare}`, undefined, { 'x-request-id': id });
    expect(d.status).toBe(202);
    await new Promise((res) => setTimeout(res, 500));
    for (const target of ['gateway', 'metadata-service', 'blob-service']) {
      const lines = s
        .logs(target)
        .split('\n')
        .filter((l) => l.includes(id));
      expect({ target, logged: lines.length > 0 }).toEqual({ target, logged: true });
      for (const l of lines) expect(JSON.parse(l).req?.id ?? JSON.parse(l).requestId).toBe(id);
    }
  });
});
