// Tenancy: every management route, called as anonymous, as another user, as the owner, as a robot
// of the owner with and without the scope, and as an admin, against a real platform in both
// wirings. The routes come from the live OpenAPI document (every route with its declared policy),
// so a new route without a case here fails the suite. Then: a private image stays private through
// every path, a right revoked since a container was made is honoured, and a cross-repository mount
// works for token clients that follow the challenge.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import tar from 'tar-stream';
import { buildLayout, policyFile, startStevedore, type StevedoreUnderTest, type Wiring, type UncheckedJson } from '@stevedore/testing';

const run = promisify(execFile);
const METRICS_TOKEN = randomBytes(16).toString('hex');
jest.setTimeout(600_000);

type Who = 'anonymous' | 'bob' | 'alice' | 'robot' | 'robotWithout' | 'admin';
const CALLERS: Who[] = ['anonymous', 'bob', 'alice', 'robot', 'robotWithout', 'admin'];

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json<T = UncheckedJson>(): T;
}

interface Req {
  method?: string;
  path: string;
  json?: unknown;
  body?: Buffer;
}

interface Case {
  /** The request for one caller (may create a fresh resource for a destructive route). */
  request: (who: Who) => Req | Promise<Req>;
  want: Record<Who, number>;
  /** More than the status: what a listing shows, what a rejected batch item says. */
  check?: (who: Who, a: Answer) => void;
}

const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const adminOnly = (ok: number): Record<Who, number> => ({ anonymous: 401, bob: 403, alice: 403, robot: 403, robotWithout: 403, admin: ok });
/** Owned resources: anonymous must log in, others see nothing, the owner and their robot act, admins act. */
const owned = (ok: number, robotWithout = 404): Record<Who, number> => ({
  anonymous: 401,
  bob: 404,
  alice: ok,
  robot: ok,
  robotWithout,
  admin: ok,
});

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe.each<Wiring>(['all', 'split'])('tenancy of the management API (%s)', (wiring) => {
  let s: StevedoreUnderTest;
  let dir: string;
  const auth = new Map<Who, string | undefined>();
  const passwords = { alice: `alice-${randomBytes(6).toString('hex')}`, bob: `bob-${randomBytes(6).toString('hex')}` };
  const fx = {} as {
    container: string;
    job: string;
    exportId: string;
    importId: string;
    gcRun: string;
    replication: string;
    archive: Buffer;
    layer: { digest: string; bytes: Buffer };
  };
  let counter = 0;
  const unique = (p: string) => `${p}${++counter}`;

  async function call(who: Who | undefined, r: Req, extra: Record<string, string> = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...extra };
    const a = who ? auth.get(who) : undefined;
    if (a && !headers.authorization) headers.authorization = a;
    let body: Buffer | string | undefined = r.body;
    if (r.json !== undefined) {
      body = JSON.stringify(r.json);
      headers['content-type'] = 'application/json';
    } else if (r.body) headers['content-type'] ??= 'application/octet-stream';
    const res = await fetch(s.url + r.path, { method: r.method ?? 'GET', headers, body, redirect: 'manual' });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
  }

  async function ok(who: Who, r: Req, status?: number): Promise<UncheckedJson> {
    const a = await call(who, r);
    if (status ? a.status !== status : a.status >= 300)
      throw new Error(`${r.method ?? 'GET'} ${r.path} as ${who}: ${a.status} ${a.text.slice(0, 400)}`);
    return a.text ? a.json() : undefined;
  }

  async function waitJob(p: string): Promise<UncheckedJson> {
    for (let i = 0; i < 600; i++) {
      const v = await ok('admin', { path: p });
      if (v.state === 'completed' || v.state === 'failed') return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${p} did not finish`);
  }

  /** The user name and password a caller's Basic credentials carry. */
  const passwordOf = (who: Who): [string, string] => {
    const decoded = Buffer.from(auth.get(who)!.split(' ')[1], 'base64').toString();
    const colon = decoded.indexOf(':');
    return [decoded.slice(0, colon), decoded.slice(colon + 1)];
  };
  const newContainer = async (): Promise<string> =>
    (await ok('alice', { method: 'POST', path: '/api/v1/containers', json: { image: 'alice/app:v1' } }, 201)).id;
  const newExport = async (): Promise<string> => {
    const e = await ok('alice', { method: 'POST', path: '/api/v1/exports', json: { references: ['alice/app:v1'] } }, 202);
    await waitJob(`/api/v1/exports/${e.id}`);
    return e.id;
  };

  beforeAll(async () => {
    s = await startStevedore({ wiring, commitWorkers: wiring === 'split' ? 1 : 0, extraEnv: { STEVEDORE_METRICS_TOKEN: METRICS_TOKEN } });
    dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-tenancy-'));
    const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
    auth.set('anonymous', undefined);
    auth.set('admin', basic(s.admin.user, s.admin.password));
    for (const u of ['alice', 'bob'] as const) {
      await ok('admin', { method: 'POST', path: '/api/v1/users', json: { name: u, password: passwords[u] } }, 201);
      auth.set(u, basic(u, passwords[u]));
    }
    // Robots of alice: one with her namespace, one with a scope that does not cover alice/app.
    const robot = await ok(
      'alice',
      {
        method: 'POST',
        path: '/api/v1/robots',
        json: { name: 'alice.ci', scopes: [{ repository: 'alice/*', actions: ['pull', 'push'] }] },
      },
      201,
    );
    auth.set('robot', basic('alice.ci', robot.secret));
    const without = await ok(
      'alice',
      { method: 'POST', path: '/api/v1/robots', json: { name: 'alice.other', scopes: [{ repository: 'alice/other', actions: ['pull'] }] } },
      201,
    );
    auth.set('robotWithout', basic('alice.other', without.secret));

    // alice's private image, pushed by alice with skopeo.
    const layout = path.join(dir, 'layout');
    buildLayout(layout, 'v1', [{ 'hello.txt': 'hello from a layer of a private image\n', 'etc/motd': 'hi\n' }]);
    await run('skopeo', [
      '--policy',
      policyFile(dir),
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      `alice:${passwords.alice}`,
      `oci:${layout}:v1`,
      `docker://${s.url.replace(/^http:\/\//, '')}/alice/app:v1`,
    ]);

    fx.container = await newContainer();
    await ok(
      'alice',
      { method: 'PUT', path: `/api/v1/containers/${fx.container}/files?path=/secret.txt`, body: Buffer.from('alice only\n') },
      201,
    );
    const job = await ok('alice', {
      method: 'POST',
      path: '/api/v1/commits',
      json: { container: fx.container, reference: 'alice/app:v2', pause: false },
    });
    fx.job = job.id;
    expect((await waitJob(`/api/v1/jobs/${fx.job}`)).state).toBe('completed');
    fx.exportId = await newExport();
    fx.archive = Buffer.from(
      await (
        await fetch(`${s.url}/api/v1/exports/${fx.exportId}/archive`, { headers: { authorization: auth.get('alice')! } })
      ).arrayBuffer(),
    );
    const imp = await ok('admin', { method: 'POST', path: '/api/v1/imports', body: fx.archive }, 202);
    fx.importId = imp.id;
    fx.gcRun = (await ok('admin', { method: 'POST', path: '/api/v1/gc', json: { dryRun: true } }, 202)).id;
    await ok('admin', { method: 'POST', path: '/api/v1/upstreams', json: { id: 'up1', url: 'http://127.0.0.1:9' } }, 201);
    fx.replication = (
      await ok(
        'admin',
        { method: 'POST', path: '/api/v1/replications', json: { source: 'alice/app:v1', target: { upstream: 'up1', name: 'x/y' } } },
        202,
      )
    ).id;
    const layerBytes = randomBytes(4096);
    fx.layer = { digest: sha256(layerBytes), bytes: layerBytes };
    // A blob in alice/app that only alice may pull (for the mount cases).
    const post = await call('alice', { method: 'POST', path: `/v2/alice/app/blobs/uploads/?digest=${fx.layer.digest}`, body: layerBytes });
    expect(post.status).toBe(201);
  });

  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await s?.stop();
  });

  const c = () => fx.container;
  const CASES: Record<string, Case> = {
    // containers
    'POST /api/v1/containers': {
      request: () => ({ method: 'POST', path: '/api/v1/containers', json: { image: 'alice/app:v1' } }),
      want: { anonymous: 401, bob: 403, alice: 201, robot: 201, robotWithout: 403, admin: 201 },
    },
    'GET /api/v1/containers': {
      request: () => ({ path: '/api/v1/containers' }),
      want: { anonymous: 401, bob: 200, alice: 200, robot: 200, robotWithout: 200, admin: 200 },
      check: (who, a) => {
        if (a.status !== 200) return;
        const ids = a.json().containers.map((x: { id: string }) => x.id);
        expect(ids.includes(fx.container)).toBe(who === 'alice' || who === 'robot' || who === 'admin');
      },
    },
    'GET /api/v1/containers/{id}': { request: () => ({ path: `/api/v1/containers/${c()}` }), want: owned(200) },
    'DELETE /api/v1/containers/{id}': {
      request: async () => ({ method: 'DELETE', path: `/api/v1/containers/${await newContainer()}` }),
      want: owned(204),
    },
    'PUT /api/v1/containers/{id}/files': {
      request: async () => ({
        method: 'PUT',
        path: `/api/v1/containers/${await newContainer()}/files?path=/written.txt`,
        body: Buffer.from('x'),
      }),
      want: owned(201),
    },
    'GET /api/v1/containers/{id}/files': {
      request: () => ({ path: `/api/v1/containers/${c()}/files?path=/secret.txt` }),
      want: owned(200),
      check: (who, a) => {
        if (a.status === 200) expect(a.text).toBe('alice only\n');
        else expect(a.text).not.toContain('alice only');
      },
    },
    'DELETE /api/v1/containers/{id}/files': {
      request: async () => ({ method: 'DELETE', path: `/api/v1/containers/${await newContainer()}/files?path=/hello.txt` }),
      want: owned(204),
    },
    'GET /api/v1/containers/{id}/stat': { request: () => ({ path: `/api/v1/containers/${c()}/stat?path=/hello.txt` }), want: owned(200) },
    'GET /api/v1/containers/{id}/dir': { request: () => ({ path: `/api/v1/containers/${c()}/dir?path=/` }), want: owned(200) },
    'POST /api/v1/containers/{id}/ops': {
      request: async () => ({
        method: 'POST',
        path: `/api/v1/containers/${await newContainer()}/ops`,
        json: { op: 'mkdir', path: '/made' },
      }),
      want: owned(201),
    },
    'PUT /api/v1/containers/{id}/archive': {
      request: async () => ({
        method: 'PUT',
        path: `/api/v1/containers/${await newContainer()}/archive`,
        body: await tarOf({ 'from-tar.txt': 'tar\n' }),
      }),
      want: owned(200),
    },
    'GET /api/v1/containers/{id}/changes': {
      request: () => ({ path: `/api/v1/containers/${c()}/changes` }),
      want: owned(200),
      check: (_who, a) => {
        if (a.status !== 200) expect(a.text).not.toContain('secret.txt');
      },
    },
    'POST /api/v1/containers/{id}/pause': {
      request: async () => ({ method: 'POST', path: `/api/v1/containers/${await newContainer()}/pause` }),
      want: owned(200),
    },
    'POST /api/v1/containers/{id}/unpause': {
      request: async () => ({ method: 'POST', path: `/api/v1/containers/${await newContainer()}/unpause` }),
      want: owned(200),
    },
    // commits and jobs
    'POST /api/v1/commits': {
      // Each caller commits alice's container into a namespace it may push: bob into his own.
      request: (who) => ({
        method: 'POST',
        path: '/api/v1/commits',
        json: {
          container: c(),
          reference: who === 'bob' ? 'bob/fromalice:v1' : who === 'robotWithout' ? 'alice/other:v1' : `alice/c-${who.toLowerCase()}:v1`,
          pause: false,
        },
      }),
      want: { anonymous: 401, bob: 404, alice: 202, robot: 202, robotWithout: 403, admin: 202 },
    },
    'POST /api/v1/commits:batch': {
      request: (who) => ({
        method: 'POST',
        path: '/api/v1/commits:batch',
        json: {
          commits: [{ container: c(), reference: who === 'bob' ? 'bob/batch:v1' : `alice/b-${who.toLowerCase()}:v1`, pause: false }],
        },
      }),
      want: { anonymous: 401, bob: 202, alice: 202, robot: 202, robotWithout: 403, admin: 202 },
      check: (who, a) => {
        if (a.status !== 202) return;
        const children = a.json().children as Array<{ id: string; error?: { code: string; message: string } }>;
        // bob's item is rejected exactly as a missing container would be.
        if (who === 'bob')
          expect(children).toEqual([
            expect.objectContaining({ id: '', error: { code: 'NOT_FOUND', message: `no such container: ${c()}`, detail: { id: c() } } }),
          ]);
        else expect(children[0].id).toMatch(/^commit-/);
      },
    },
    'GET /api/v1/jobs': {
      request: () => ({ path: '/api/v1/jobs?n=1000' }),
      want: { anonymous: 401, bob: 200, alice: 200, robot: 200, robotWithout: 200, admin: 200 },
      check: (who, a) => {
        if (a.status !== 200) return;
        const rows = a.json().items as Array<{ id: string; kind: string; owner?: string }>;
        const has = (kind: string, id: string) => rows.some((r) => r.kind === kind && r.id === id);
        // alice's commit: she, her robot with pull on alice/*, and admins see it; her other robot does not.
        expect(has('commit', fx.job)).toBe(who === 'alice' || who === 'robot' || who === 'admin');
        expect(has('export', fx.exportId)).toBe(who === 'alice' || who === 'robot' || who === 'admin');
        // The admin's import, the GC run and the replication have no other owner: admins only.
        for (const [kind, id] of [
          ['import', fx.importId],
          ['gc', fx.gcRun],
          ['replicate', fx.replication],
        ])
          expect({ kind, shown: has(kind, id) }).toEqual({ kind, shown: who === 'admin' });
        // Anyone else sees only their own (a robot: its owner's).
        const self = who === 'bob' ? 'bob' : 'alice';
        if (who !== 'admin') expect(rows.filter((r) => r.owner !== self).map((r) => `${r.kind}/${r.id} of ${r.owner}`)).toEqual([]);
      },
    },
    'GET /api/v1/jobs/{id}': { request: () => ({ path: `/api/v1/jobs/${fx.job}` }), want: owned(200) },
    'DELETE /api/v1/jobs/{id}': { request: () => ({ method: 'DELETE', path: `/api/v1/jobs/${fx.job}` }), want: owned(409) },
    'GET /api/v1/jobs/{id}/events': {
      request: () => ({ path: `/api/v1/jobs/${fx.job}/events` }),
      want: owned(200),
      check: (_who, a) => {
        if (a.status === 200) expect(a.text).toContain('event: completed');
      },
    },
    // exports and imports
    'POST /api/v1/exports': {
      request: () => ({ method: 'POST', path: '/api/v1/exports', json: { references: ['alice/app:v1'] } }),
      want: { anonymous: 401, bob: 403, alice: 202, robot: 202, robotWithout: 403, admin: 202 },
    },
    'GET /api/v1/exports/{id}': { request: () => ({ path: `/api/v1/exports/${fx.exportId}` }), want: owned(200) },
    'GET /api/v1/exports/{id}/archive': {
      request: () => ({ path: `/api/v1/exports/${fx.exportId}/archive` }),
      want: owned(200),
    },
    'DELETE /api/v1/exports/{id}': {
      request: async () => ({ method: 'DELETE', path: `/api/v1/exports/${await newExport()}` }),
      want: owned(204),
    },
    'POST /api/v1/imports': { request: () => ({ method: 'POST', path: '/api/v1/imports', body: fx.archive }), want: adminOnly(202) },
    'GET /api/v1/imports/{id}': {
      // The admin's import: nobody else sees it.
      request: () => ({ path: `/api/v1/imports/${fx.importId}` }),
      want: { anonymous: 401, bob: 404, alice: 404, robot: 404, robotWithout: 404, admin: 200 },
    },
    // images
    'GET /api/v1/images': {
      request: () => ({ path: '/api/v1/images' }),
      want: { anonymous: 200, bob: 200, alice: 200, robot: 200, robotWithout: 200, admin: 200 },
      check: (who, a) => {
        const repos = new Set(a.json().items.map((i: { repository: string }) => i.repository));
        expect(repos.has('alice/app')).toBe(who === 'alice' || who === 'robot' || who === 'admin');
      },
    },
    'GET /api/v1/repositories': {
      request: () => ({ path: '/api/v1/repositories?n=500' }),
      want: { anonymous: 200, bob: 200, alice: 200, robot: 200, robotWithout: 200, admin: 200 },
      check: (who, a) => {
        const repos = new Set(a.json().items.map((i: { name: string }) => i.name));
        expect(repos.has('alice/app')).toBe(who === 'alice' || who === 'robot' || who === 'admin');
      },
    },
    'GET /api/v1/images/inspect': {
      request: () => ({ path: '/api/v1/images/inspect?ref=alice/app:v1' }),
      want: { anonymous: 401, bob: 403, alice: 200, robot: 200, robotWithout: 403, admin: 200 },
    },
    'GET /api/v1/images/history': {
      request: () => ({ path: '/api/v1/images/history?ref=alice/app:v1' }),
      want: { anonymous: 401, bob: 403, alice: 200, robot: 200, robotWithout: 403, admin: 200 },
    },
    'GET /api/v1/image-ids/{id}': {
      request: async () => {
        const image = await ok('admin', { path: '/api/v1/images/inspect?ref=alice/app:v1' }, 200);
        return { path: `/api/v1/image-ids/${(image as { Id: string }).Id.slice(7, 19)}` };
      },
      // An image the caller may pull nowhere is no image to it: the same 404 as a missing one.
      want: { anonymous: 404, bob: 404, alice: 200, robot: 200, robotWithout: 404, admin: 200 },
    },
    'GET /api/v1/images/changes': {
      request: () => ({ path: '/api/v1/images/changes?ref=alice/app:v1&layer=0' }),
      want: { anonymous: 401, bob: 403, alice: 200, robot: 200, robotWithout: 403, admin: 200 },
    },
    'GET /api/v1/images/fs': {
      request: () => ({ path: '/api/v1/images/fs?ref=alice/app:v1&path=/' }),
      want: { anonymous: 401, bob: 403, alice: 200, robot: 200, robotWithout: 403, admin: 200 },
    },
    'GET /api/v1/images/file': {
      request: () => ({ path: '/api/v1/images/file?ref=alice/app:v1&path=/hello.txt' }),
      want: { anonymous: 401, bob: 403, alice: 200, robot: 200, robotWithout: 403, admin: 200 },
      check: (who, a) => {
        if (a.status === 200) expect(a.text).toBe('hello from a layer of a private image\n');
      },
    },
    'GET /api/v1/images/referrers': {
      request: () => ({ path: '/api/v1/images/referrers?ref=alice/app:v1' }),
      want: { anonymous: 401, bob: 403, alice: 200, robot: 200, robotWithout: 403, admin: 200 },
    },
    'GET /api/v1/images/tag-history': {
      request: () => ({ path: '/api/v1/images/tag-history?ref=alice/app:v1' }),
      want: { anonymous: 401, bob: 403, alice: 200, robot: 200, robotWithout: 403, admin: 200 },
    },
    'POST /api/v1/images/tag-history/restore': {
      request: async () => {
        const h = await ok('admin', { path: '/api/v1/images/tag-history?ref=alice/app:v1' }, 200);
        return {
          method: 'POST',
          path: '/api/v1/images/tag-history/restore',
          json: { ref: 'alice/app:v1', digest: (h as { current: string }).current },
        };
      },
      want: { anonymous: 401, bob: 403, alice: 201, robot: 201, robotWithout: 403, admin: 201 },
    },
    'POST /api/v1/images/tag': {
      request: (who) => ({
        method: 'POST',
        path: '/api/v1/images/tag',
        json: {
          source: 'alice/app:v1',
          target: who === 'bob' ? 'bob/stolen:v1' : who === 'robotWithout' ? 'alice/other:t' : `alice/t-${who.toLowerCase()}:v1`,
        },
      }),
      want: { anonymous: 401, bob: 403, alice: 201, robot: 201, robotWithout: 403, admin: 201 },
    },
    'DELETE /api/v1/images': {
      request: async (who) => {
        const tag = unique(`del-${who.toLowerCase()}-`);
        await ok(
          'admin',
          { method: 'POST', path: '/api/v1/images/tag', json: { source: 'alice/app:v1', target: `alice/app:${tag}` } },
          201,
        );
        return { method: 'DELETE', path: `/api/v1/images?ref=alice/app:${tag}` };
      },
      // The robots have pull and push, not delete.
      want: { anonymous: 401, bob: 403, alice: 200, robot: 403, robotWithout: 403, admin: 200 },
    },
    'POST /api/v1/images/untag': {
      request: async (who) => {
        const tag = unique(`untag-${who.toLowerCase()}-`);
        await ok(
          'admin',
          { method: 'POST', path: '/api/v1/images/tag', json: { source: 'alice/app:v1', target: `alice/app:${tag}` } },
          201,
        );
        return { method: 'POST', path: `/api/v1/images/untag?ref=alice/app:${tag}` };
      },
      want: { anonymous: 401, bob: 403, alice: 201, robot: 403, robotWithout: 403, admin: 201 },
    },
    'POST /api/v1/images/import': {
      request: async (who) => ({
        method: 'POST',
        path: `/api/v1/images/import?ref=alice/imported-${who.toLowerCase()}:v1`,
        body: await tarOf({ 'imported.txt': 'x\n' }),
      }),
      want: { anonymous: 401, bob: 403, alice: 201, robot: 201, robotWithout: 403, admin: 201 },
    },
    // accounts
    'GET /api/v1/users': { request: () => ({ path: '/api/v1/users' }), want: adminOnly(200) },
    'POST /api/v1/users': {
      request: () => ({ method: 'POST', path: '/api/v1/users', json: { name: unique('user'), password: 'password-123' } }),
      want: adminOnly(201),
    },
    // The browser's session: each caller signs in with its own password (anonymous with a wrong one);
    // robots do not sign in. A Basic caller has no session to show, and signing out is idempotent.
    'POST /api/v1/session': {
      request: (who) => {
        const [user, password] = who === 'anonymous' ? ['alice', 'not-her-password'] : passwordOf(who);
        return { method: 'POST', path: '/api/v1/session', json: { username: user, password } };
      },
      want: { anonymous: 401, bob: 201, alice: 201, robot: 403, robotWithout: 403, admin: 201 },
      check: (who, a) => expect(!!a.headers.get('set-cookie')).toBe(a.status === 201),
    },
    'GET /api/v1/session': {
      request: () => ({ path: '/api/v1/session' }),
      want: { anonymous: 401, bob: 401, alice: 401, robot: 401, robotWithout: 401, admin: 401 },
    },
    'DELETE /api/v1/session': {
      request: () => ({ method: 'DELETE', path: '/api/v1/session' }),
      want: { anonymous: 204, bob: 204, alice: 204, robot: 204, robotWithout: 204, admin: 204 },
    },
    'DELETE /api/v1/users/{name}': {
      request: async () => {
        const name = unique('doomed');
        await ok('admin', { method: 'POST', path: '/api/v1/users', json: { name, password: 'password-123' } }, 201);
        return { method: 'DELETE', path: `/api/v1/users/${name}` };
      },
      want: adminOnly(204),
    },
    'GET /api/v1/users/{name}': {
      request: () => ({ path: '/api/v1/users/alice' }),
      want: { anonymous: 401, bob: 404, alice: 200, robot: 403, robotWithout: 403, admin: 200 },
    },
    'PATCH /api/v1/users/{name}': {
      request: () => ({ method: 'PATCH', path: '/api/v1/users/alice', json: { password: passwords.alice } }),
      want: { anonymous: 401, bob: 404, alice: 200, robot: 403, robotWithout: 403, admin: 200 },
    },
    'GET /api/v1/robots': {
      request: () => ({ path: '/api/v1/robots' }),
      want: { anonymous: 401, bob: 200, alice: 200, robot: 403, robotWithout: 403, admin: 200 },
      check: (who, a) => {
        if (a.status !== 200) return;
        const names = a.json().robots.map((r: { name: string }) => r.name);
        expect(names.includes('alice.ci')).toBe(who !== 'bob');
      },
    },
    'POST /api/v1/robots': {
      request: (who) => ({
        method: 'POST',
        path: '/api/v1/robots',
        json: {
          name: unique(`${who === 'anonymous' ? 'anon' : who === 'admin' ? 'admin' : who === 'bob' ? 'bob' : 'alice'}.r`),
          scopes: [{ repository: `${who === 'bob' ? 'bob' : 'alice'}/*`, actions: ['pull'] }],
        },
      }),
      want: { anonymous: 401, bob: 201, alice: 201, robot: 403, robotWithout: 403, admin: 201 },
    },
    'DELETE /api/v1/robots/{name}': {
      request: async () => {
        const r = await ok(
          'alice',
          {
            method: 'POST',
            path: '/api/v1/robots',
            json: { name: unique('alice.gone'), scopes: [{ repository: 'alice/*', actions: ['pull'] }] },
          },
          201,
        );
        return { method: 'DELETE', path: `/api/v1/robots/${r.name}` };
      },
      want: { anonymous: 401, bob: 404, alice: 204, robot: 403, robotWithout: 403, admin: 204 },
    },
    'PUT /api/v1/repositories/visibility': {
      request: () => ({ method: 'PUT', path: '/api/v1/repositories/visibility', json: { repository: 'alice/vis', public: false } }),
      want: { anonymous: 401, bob: 403, alice: 200, robot: 403, robotWithout: 403, admin: 200 },
    },
    // the operator's API
    'POST /api/v1/gc': { request: () => ({ method: 'POST', path: '/api/v1/gc', json: { dryRun: true } }), want: adminOnly(202) },
    'GET /api/v1/gc/runs': { request: () => ({ path: '/api/v1/gc/runs' }), want: adminOnly(200) },
    'GET /api/v1/gc/runs/{id}': { request: () => ({ path: `/api/v1/gc/runs/${fx.gcRun}` }), want: adminOnly(200) },
    'POST /api/v1/admin/consistency': {
      request: () => ({ method: 'POST', path: '/api/v1/admin/consistency', json: { dryRun: true } }),
      want: adminOnly(200),
    },
    'GET /api/v1/admin/consistency/runs': { request: () => ({ path: '/api/v1/admin/consistency/runs' }), want: adminOnly(200) },
    'GET /api/v1/retention': { request: () => ({ path: '/api/v1/retention' }), want: adminOnly(200) },
    'PUT /api/v1/retention': {
      request: () => ({ method: 'PUT', path: '/api/v1/retention', json: { repository: 'alice/app', keepLast: 50 } }),
      want: adminOnly(200),
    },
    'DELETE /api/v1/retention': {
      request: () => ({ method: 'DELETE', path: '/api/v1/retention?repository=alice/app' }),
      want: adminOnly(204),
    },
    'GET /api/v1/quotas': { request: () => ({ path: '/api/v1/quotas' }), want: adminOnly(200) },
    'GET /api/v1/quotas/{namespace}': { request: () => ({ path: '/api/v1/quotas/alice' }), want: adminOnly(200) },
    'PUT /api/v1/quotas/{namespace}': {
      request: () => ({ method: 'PUT', path: '/api/v1/quotas/alice', json: { limitBytes: 1e12 } }),
      want: adminOnly(200),
    },
    'DELETE /api/v1/quotas/{namespace}': { request: () => ({ method: 'DELETE', path: '/api/v1/quotas/alice' }), want: adminOnly(204) },
    'GET /api/v1/upstreams': { request: () => ({ path: '/api/v1/upstreams' }), want: adminOnly(200) },
    'POST /api/v1/upstreams': {
      request: () => ({ method: 'POST', path: '/api/v1/upstreams', json: { id: unique('up-'), url: 'http://127.0.0.1:9' } }),
      want: adminOnly(201),
    },
    'GET /api/v1/upstreams/{id}': { request: () => ({ path: '/api/v1/upstreams/up1' }), want: adminOnly(200) },
    'PUT /api/v1/upstreams/{id}': {
      request: () => ({ method: 'PUT', path: '/api/v1/upstreams/up1', json: { url: 'http://127.0.0.1:9' } }),
      want: adminOnly(200),
    },
    'DELETE /api/v1/upstreams/{id}': {
      request: async () => {
        const id = unique('gone-');
        await ok('admin', { method: 'POST', path: '/api/v1/upstreams', json: { id, url: 'http://127.0.0.1:9' } }, 201);
        return { method: 'DELETE', path: `/api/v1/upstreams/${id}` };
      },
      want: adminOnly(204),
    },
    'POST /api/v1/replications': {
      request: () => ({
        method: 'POST',
        path: '/api/v1/replications',
        json: { source: 'alice/app:v1', target: { upstream: 'up1', name: 'x/y' } },
      }),
      want: adminOnly(202),
    },
    'GET /api/v1/replications/{id}': { request: () => ({ path: `/api/v1/replications/${fx.replication}` }), want: adminOnly(200) },
    'GET /api/v1/replication-rules': { request: () => ({ path: '/api/v1/replication-rules' }), want: adminOnly(200) },
    'POST /api/v1/replication-rules': {
      request: () => ({
        method: 'POST',
        path: '/api/v1/replication-rules',
        json: { sourcePattern: 'alice/*', target: { upstream: 'up1' } },
      }),
      want: adminOnly(201),
    },
    'DELETE /api/v1/replication-rules/{id}': {
      request: async () => {
        const r = await ok(
          'admin',
          { method: 'POST', path: '/api/v1/replication-rules', json: { sourcePattern: 'alice/*', target: { upstream: 'up1' } } },
          201,
        );
        return { method: 'DELETE', path: `/api/v1/replication-rules/${r.id}` };
      },
      want: adminOnly(204),
    },
  };

  it('every management route declares a policy and has a tenancy case here', async () => {
    const doc = await ok('anonymous', { path: '/api/docs-json' });
    const routes: string[] = [];
    for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, { 'x-access'?: { role: string } }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        routes.push(`${method.toUpperCase()} ${p}`);
        expect({ route: `${method} ${p}`, role: op['x-access']?.role }).toEqual({ route: `${method} ${p}`, role: expect.any(String) });
      }
    }
    expect(routes.length).toBeGreaterThan(50);
    expect(routes.filter((r) => !CASES[r])).toEqual([]);
    expect(Object.keys(CASES).filter((k) => !routes.includes(k))).toEqual([]);
  });

  it('answers every route as the route table says, for every caller', async () => {
    const failures: string[] = [];
    for (const [route, k] of Object.entries(CASES)) {
      for (const who of CALLERS) {
        const r = await k.request(who);
        const a = await call(who, r);
        if (a.status !== k.want[who]) failures.push(`${route} as ${who}: want ${k.want[who]}, got ${a.status} ${a.text.slice(0, 200)}`);
        else if (k.check) {
          try {
            k.check(who, a);
          } catch (e) {
            failures.push(`${route} as ${who}: ${(e as Error).message.split('\n').slice(0, 6).join(' ')}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('a resource the caller may not see answers exactly as a missing one', async () => {
    const missing = 'f'.repeat(64);
    for (const [hidden, absent] of [
      [`/api/v1/containers/${fx.container}`, `/api/v1/containers/${missing}`],
      [`/api/v1/containers/${fx.container}/files?path=/secret.txt`, `/api/v1/containers/${missing}/files?path=/secret.txt`],
      [`/api/v1/jobs/${fx.job}`, `/api/v1/jobs/commit-${'0'.repeat(40)}`],
      [`/api/v1/exports/${fx.exportId}/archive`, `/api/v1/exports/00000000-0000-4000-8000-000000000000/archive`],
    ]) {
      const a = await call('bob', { path: hidden });
      const b = await call('bob', { path: absent });
      expect(a.status).toBe(404);
      expect(b.status).toBe(404);
      const strip = (t: string, id: string) => t.split(id).join('<id>');
      const idOf = (p: string) => p.split('/')[4].split('?')[0];
      expect(strip(a.text, idOf(hidden))).toBe(strip(b.text, idOf(absent)));
    }
  });

  it("bob's commit of alice's container does not happen, and no copy of her image appears in his namespace", async () => {
    const r = await call('bob', {
      method: 'POST',
      path: '/api/v1/commits',
      json: { container: fx.container, reference: 'bob/fromalice:v2', pause: false },
    });
    expect(r.status).toBe(404);
    expect((await call('bob', { path: '/v2/bob/fromalice/manifests/v2' })).status).toBe(404);
    expect((await call('bob', { path: '/v2/bob/fromalice/manifests/v1' })).status).toBe(404);
  });

  it('a right revoked since a container was made is honoured: files, diff and commit need pull now', async () => {
    await ok('admin', { method: 'PUT', path: '/api/v1/repositories/visibility', json: { repository: 'alice/app', public: true } });
    const mine = await ok('bob', { method: 'POST', path: '/api/v1/containers', json: { image: 'alice/app:v1' } }, 201);
    expect(mine.owner).toBe('bob');
    expect((await call('bob', { path: `/api/v1/containers/${mine.id}/files?path=/hello.txt` })).status).toBe(200);
    await ok('alice', { method: 'PUT', path: '/api/v1/repositories/visibility', json: { repository: 'alice/app', public: false } });
    // Still his container (he sees it), but its image's content is no longer his to read.
    expect((await call('bob', { path: `/api/v1/containers/${mine.id}` })).status).toBe(200);
    for (const p of [
      `/api/v1/containers/${mine.id}/files?path=/hello.txt`,
      `/api/v1/containers/${mine.id}/changes`,
      `/api/v1/containers/${mine.id}/dir?path=/`,
    ]) {
      const a = await call('bob', { path: p });
      expect({ p, status: a.status }).toEqual({ p, status: 403 });
      expect(a.text).not.toContain('hello from a layer');
    }
    const commit = await call('bob', {
      method: 'POST',
      path: '/api/v1/commits',
      json: { container: mine.id, reference: 'bob/copy:v1', pause: false },
    });
    expect(commit.status).toBe(403);
    const exp = await call('bob', { method: 'POST', path: '/api/v1/exports', json: { references: ['alice/app:v1'] } });
    expect(exp.status).toBe(403);
  });

  it("alice's export archive is hers: bob cannot read, fetch or delete it, and it still exists afterwards", async () => {
    for (const method of ['GET', 'DELETE'])
      expect((await call('bob', { method, path: `/api/v1/exports/${fx.exportId}` })).status).toBe(404);
    expect((await call('bob', { path: `/api/v1/exports/${fx.exportId}/archive` })).status).toBe(404);
    const a = await call('alice', { path: `/api/v1/exports/${fx.exportId}/archive` });
    expect(a.status).toBe(200);
  });

  it('a disabled owner disables their robots', async () => {
    const carol = `carol-${randomBytes(4).toString('hex')}`;
    await ok('admin', { method: 'POST', path: '/api/v1/users', json: { name: carol, password: 'carol-password' } }, 201);
    const carolAuth = 'Basic ' + Buffer.from(`${carol}:carol-password`).toString('base64');
    const created = await call(
      undefined,
      {
        method: 'POST',
        path: '/api/v1/robots',
        json: { name: `${carol}.ci`, scopes: [{ repository: `${carol}/*`, actions: ['pull', 'push'] }] },
      },
      { authorization: carolAuth },
    );
    expect(created.status).toBe(201);
    const robotAuth = 'Basic ' + Buffer.from(`${carol}.ci:${created.json().secret}`).toString('base64');
    expect((await call(undefined, { path: '/api/v1/containers' }, { authorization: robotAuth })).status).toBe(200);
    await ok('admin', { method: 'PATCH', path: `/api/v1/users/${carol}`, json: { disabled: true } });
    expect((await call(undefined, { path: '/api/v1/containers' }, { authorization: robotAuth })).status).toBe(401);
    // A robot's scopes may not reach past its creator's rights.
    const wider = await call(
      undefined,
      { method: 'POST', path: '/api/v1/robots', json: { name: 'bob.wide', scopes: [{ repository: 'alice/*', actions: ['pull'] }] } },
      { authorization: auth.get('bob')! },
    );
    expect(wider.status).toBe(403);
  });

  it('metrics need the configured bearer token; health and the token endpoint are open', async () => {
    expect((await call('anonymous', { path: '/metrics' })).status).toBe(401);
    expect((await call('admin', { path: '/metrics' })).status).toBe(401);
    const m = await call(undefined, { path: '/metrics' }, { authorization: `Bearer ${METRICS_TOKEN}` });
    expect(m.status).toBe(200);
    expect(m.text).toContain('stevedore_');
    expect((await call('anonymous', { path: '/healthz' })).status).toBe(200);
    expect((await call('anonymous', { path: '/auth/token?service=stevedore' })).status).toBe(200);
    // The queue dashboard is the admins'.
    expect((await call('alice', { path: '/admin/queues' })).status).toBe(403);
  });

  it('internal RPC routes answer only the internal token (split), and are not served all-in-one', async () => {
    const calls: Array<[string, string, unknown[]]> = [
      ['blob-service', 'blobs/exists', [`sha256:${'0'.repeat(64)}`]],
      ['metadata-service', 'metadata/catalog', [null, null]],
      ['metadata-service', 'containers/list', []],
    ];
    for (const [proc, method, args] of calls) {
      const base = wiring === 'split' ? s.urlOf(proc) : s.url;
      const post = (headers: Record<string, string>) =>
        fetch(`${base}/internal/v1/rpc/${method}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(args),
        });
      if (wiring === 'all') {
        expect({ method, status: (await post({ 'x-stevedore-internal-token': s.env.STEVEDORE_INTERNAL_TOKEN })).status }).toEqual({
          method,
          status: 404,
        });
        continue;
      }
      expect({ method, status: (await post({})).status }).toEqual({ method, status: 401 });
      expect({ method, status: (await post({ 'x-stevedore-internal-token': 'wrong' })).status }).toEqual({ method, status: 401 });
      // A user's credentials are not the internal token either.
      expect({ method, status: (await post({ authorization: auth.get('admin')! })).status }).toEqual({ method, status: 401 });
      const right = await post({ 'x-stevedore-internal-token': s.env.STEVEDORE_INTERNAL_TOKEN });
      expect({ method, status: right.status === 204 ? 200 : right.status }).toEqual({ method, status: 200 });
    }
  });

  describe('cross-repository mount', () => {
    const mountPath = (to: string, from = 'alice/app') => `/v2/${to}/blobs/uploads/?mount=${fx.layer.digest}&from=${from}`;
    async function token(who: Who, scope: string): Promise<string> {
      const t = await ok(who, { path: `/auth/token?service=stevedore&scope=${encodeURIComponent(scope)}` });
      return t.token;
    }

    it('a token client that follows the challenge gets 201', async () => {
      const first = await call('anonymous', { method: 'POST', path: mountPath('alice/copy') });
      expect(first.status).toBe(401);
      const challenge = first.headers.get('www-authenticate') ?? '';
      const scope = /scope="([^"]+)"/.exec(challenge)?.[1];
      expect(scope).toBe('repository:alice/copy:pull,push repository:alice/app:pull');
      const t = await token('alice', scope!);
      const second = await call(undefined, { method: 'POST', path: mountPath('alice/copy') }, { authorization: `Bearer ${t}` });
      expect(second.status).toBe(201);
      expect(second.headers.get('docker-content-digest')).toBe(fx.layer.digest);
      const blob = await call(
        undefined,
        { path: `/v2/alice/copy/blobs/${fx.layer.digest}` },
        { authorization: `Bearer ${await token('alice', 'repository:alice/copy:pull')}` },
      );
      expect(blob.status).toBe(200);
    });

    it('a token for the target only gets an upload session (202)', async () => {
      const t = await token('alice', 'repository:alice/copy2:pull,push');
      const r = await call(undefined, { method: 'POST', path: mountPath('alice/copy2') }, { authorization: `Bearer ${t}` });
      expect(r.status).toBe(202);
      expect(r.headers.get('location')).toMatch(/^\/v2\/alice\/copy2\/blobs\/uploads\//);
    });

    it('a user without pull on the source gets 202 and finishes the upload normally', async () => {
      const r = await call('bob', { method: 'POST', path: mountPath('bob/copy') });
      expect(r.status).toBe(202);
      const own = randomBytes(1024);
      const loc = r.headers.get('location')!;
      const put = await call('bob', { method: 'PUT', path: `${loc}${loc.includes('?') ? '&' : '?'}digest=${sha256(own)}`, body: own });
      expect(put.status).toBe(201);
      // And alice's blob did not appear in bob's repository.
      expect((await call('bob', { method: 'HEAD', path: `/v2/bob/copy/blobs/${fx.layer.digest}` })).status).toBe(404);
    });
  });
});
