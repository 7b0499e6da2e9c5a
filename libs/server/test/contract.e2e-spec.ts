// The server keeps the API contract (libs/api-contract): every /api/v1 route with a JSON answer is
// called on a real all-in-one server, and its answer must parse through the route's response
// schema and carry no field the schema does not name (the document says additionalProperties:
// false). A server that sends a shape the contract does not accept fails here, before the CLI or
// the web UI meet it.
import { apiRoutes, routeFor, type AnswerOf, type ApiRoute, type RouteName } from '@stevedore/api-contract';
import { http, makeLayer, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { z } from 'zod';

jest.setTimeout(180_000);

type Upload = { data: Buffer; type: string };

describe('API contract (all-in-one)', () => {
  let s: StevedoreUnderTest;
  const checked = new Set<RouteName>();

  beforeAll(async () => {
    s = await startStevedore();
  });
  afterAll(async () => {
    await s?.stop();
  });

  /** Calls a route by its contract name; fails unless the status and the answer are the contract's. */
  async function call<N extends RouteName>(
    name: N,
    path: string,
    body?: unknown | Upload,
    headers: Record<string, string> = {},
  ): Promise<AnswerOf<N>> {
    const route: ApiRoute = apiRoutes[name];
    expect({ name, route: routeFor(route.method, path) }).toEqual({ name, route });
    const upload = body instanceof Object && 'data' in body && Buffer.isBuffer(body.data) ? (body as Upload) : undefined;
    const r = await http(s.url, route.method, path, upload ? upload.data : body === undefined ? undefined : JSON.stringify(body), {
      ...headers,
      ...(upload ? { 'content-type': upload.type } : body === undefined ? {} : { 'content-type': 'application/json' }),
    });
    const statuses = [route.status, route.alsoStatus].filter((x) => x !== undefined);
    expect({ name, status: r.status, ok: statuses.includes(r.status) || r.body.toString() }).toEqual({ name, status: r.status, ok: true });
    checked.add(name);
    if (!route.response) {
      if (!route.produces) expect({ name, body: r.body.toString() }).toEqual({ name, body: '' });
      return undefined as AnswerOf<N>;
    }
    const sent: unknown = r.json();
    const parsed = route.response.safeParse(sent);
    if (!parsed.success) throw new Error(`${name} answered a shape the contract refuses:\n${z.prettifyError(parsed.error)}\n${r.body}`);
    // Parsing drops fields the schema does not name: an undocumented field shows up as a difference.
    expect({ name, answer: parsed.data }).toEqual({ name, answer: sent });
    return parsed.data as AnswerOf<N>;
  }

  async function settle<T extends { state: string }>(status: () => Promise<T>): Promise<T> {
    for (let i = 0; i < 600; i++) {
      const v = await status();
      if (v.state === 'completed' || v.state === 'failed') return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('job did not finish');
  }

  it('images, containers, commits, jobs, save and load answer as the contract says', async () => {
    const rootfs = makeLayer({ 'etc/motd': 'hello\n', 'bin/sh': 'placeholder' }).gz;
    const imported = await call('importRootfs', '/api/v1/images/import?ref=contract/base:1', { data: rootfs, type: 'application/gzip' });
    expect(imported.reference).toBe('contract/base:1');
    expect((await call('listImages', '/api/v1/images')).items.map((i) => i.repository)).toContain('contract/base');
    await call('inspectImage', '/api/v1/images/inspect?ref=contract/base:1');
    await call('imageHistory', '/api/v1/images/history?ref=contract/base:1');
    const byId = await call('resolveImageId', `/api/v1/image-ids/${imported.id.slice(7, 19)}`);
    expect(byId).toMatchObject({ id: imported.id, holders: [{ repository: 'contract/base', tags: ['1'] }] });
    await call('tagImage', '/api/v1/images/tag', { source: 'contract/base:1', target: 'contract/base:2' });
    await call('untagImage', '/api/v1/images/untag?ref=contract/base:2');
    expect((await call('listRepositories', '/api/v1/repositories?q=contract&sort=pushed')).items.map((r) => r.name)).toContain(
      'contract/base',
    );
    expect((await call('browseImage', '/api/v1/images/fs?ref=contract/base:1&path=/etc')).children.map((e) => e.path)).toContain(
      'etc/motd',
    );
    expect((await call('imageChanges', '/api/v1/images/changes?ref=contract/base:1&layer=0')).changes).toContainEqual(
      expect.objectContaining({ path: '/etc/motd', kind: 'A' }),
    );
    await call('readImageFile', '/api/v1/images/file?ref=contract/base:1&path=/etc/motd');
    expect((await call('imageReferrers', '/api/v1/images/referrers?ref=contract/base:1')).referrers).toEqual([]);
    const history = await call('tagHistory', '/api/v1/images/tag-history?ref=contract/base:2');
    expect(history.current).toBeNull();
    await call('restoreTag', '/api/v1/images/tag-history/restore', { ref: 'contract/base:2', digest: history.entries[0].digest });

    const c = await call('createContainer', '/api/v1/containers', { image: 'contract/base:1', name: 'contract-c' });
    expect((await call('listContainers', '/api/v1/containers')).containers.map((x) => x.id)).toContain(c.id);
    await call('inspectContainer', `/api/v1/containers/${c.id}`);
    expect(
      await call('fileOp', `/api/v1/containers/${c.id}/ops`, { op: 'mkdir', path: '/srv/d', parents: true, mode: '0755' }),
    ).toMatchObject({
      entry: { mode: 0o755 },
    });
    await call('writeFile', `/api/v1/containers/${c.id}/files?path=/srv/a.txt&mode=0644`, {
      data: Buffer.from('a'),
      type: 'application/octet-stream',
    });
    await call('readFile', `/api/v1/containers/${c.id}/files?path=/srv/a.txt`);
    await call('statPath', `/api/v1/containers/${c.id}/stat?path=/srv/a.txt`);
    await call('listDir', `/api/v1/containers/${c.id}/dir?path=/srv`);
    await call('putArchive', `/api/v1/containers/${c.id}/archive?mode=overlay`, {
      data: makeLayer({ 'srv/b.txt': 'b' }).gz,
      type: 'application/x-tar',
    });
    await call('removeFile', `/api/v1/containers/${c.id}/files?path=/srv/d`);
    await call('containerChanges', `/api/v1/containers/${c.id}/changes`);
    await call('pauseContainer', `/api/v1/containers/${c.id}/pause`);
    await call('unpauseContainer', `/api/v1/containers/${c.id}/unpause`);

    const job = await call('commit', '/api/v1/commits', { container: c.id, reference: 'contract/committed:1', message: 'contract' });
    const done = await settle(() => call('job', `/api/v1/jobs/${job.id}`));
    expect(done.state).toBe('completed');
    const listed = await call('listJobs', '/api/v1/jobs?kind=commit,batch&state=completed&n=5');
    expect(listed.items.map((i) => i.id)).toContain(job.id);
    const events = await http(s.url, 'GET', `/api/v1/jobs/${job.id}/events`);
    expect(events.status).toBe(200);
    // Each event's data is a job status (or a progress report) the contract accepts.
    for (const m of events.body.toString().matchAll(/^event: (\w+)\ndata: (.*)$/gm))
      if (m[1] !== 'progress')
        expect({ event: m[1], ok: apiRoutes.job.response.safeParse(JSON.parse(m[2])).success }).toEqual({ event: m[1], ok: true });
    checked.add('jobEvents');
    const batch = await call('commitBatch', '/api/v1/commits:batch', { commits: [{ container: c.id, reference: 'contract/batch:1' }] });
    expect((await settle(() => call('job', `/api/v1/jobs/${batch.id}`))).state).toBe('completed');
    // The last child of a batch of many is still waiting (or running) when the cancel comes right after it.
    // On a container of its own: the rest of the batch holds it paused for a while.
    const busy = await call('createContainer', '/api/v1/containers', { image: 'contract/base:1' });
    const many = await call('commitBatch', '/api/v1/commits:batch', {
      commits: Array.from({ length: 30 }, (_, i) => ({ container: busy.id, reference: `contract/many:${i}` })),
    });
    const cancelled = await call('cancelJob', `/api/v1/jobs/${many.children[many.children.length - 1].id}`);
    expect(['removed', 'cancelling']).toContain(cancelled.state);

    const exp = await call('createExport', '/api/v1/exports', { references: ['contract/base:1'] });
    expect((await settle(() => call('exportStatus', `/api/v1/exports/${exp.id}`))).state).toBe('completed');
    const archive = await http(s.url, 'GET', `/api/v1/exports/${exp.id}/archive`);
    expect(archive.status).toBe(200);
    checked.add('exportArchive');
    const imp = await call('createImport', '/api/v1/imports?repository=contract/loaded', { data: archive.body, type: 'application/x-tar' });
    expect((await settle(() => call('importStatus', `/api/v1/imports/${imp.id}`))).state).toBe('completed');
    await call('deleteExport', `/api/v1/exports/${exp.id}`);

    await call('removeContainer', `/api/v1/containers/${c.id}`);
    await call('removeImage', '/api/v1/images?ref=contract/committed:1');
  });

  it('users, robots, upstreams, replication, GC, retention and quotas answer as the contract says', async () => {
    await call('createUser', '/api/v1/users', { name: 'contractuser', password: 'contract-password' });
    await call('listUsers', '/api/v1/users');
    await call('getUser', '/api/v1/users/contractuser');
    await call('updateUser', '/api/v1/users/contractuser', { disabled: false });
    const robot = await call('createRobot', '/api/v1/robots', {
      name: 'admin.ci',
      scopes: [{ repository: 'contract/*', actions: ['pull'] }],
    });
    expect(robot.secret.length).toBeGreaterThan(10);
    expect((await call('listRobots', '/api/v1/robots')).robots.map((r) => r.name)).toContain('admin.ci');
    await call('removeRobot', '/api/v1/robots/admin.ci');
    await call('removeUser', '/api/v1/users/contractuser');
    await call('setVisibility', '/api/v1/repositories/visibility', { repository: 'contract/base', public: true });

    await call('createUpstream', '/api/v1/upstreams', { id: 'nowhere', url: 'http://127.0.0.1:9', prefixes: ['nowhere.example/'] });
    await call('listUpstreams', '/api/v1/upstreams');
    await call('getUpstream', '/api/v1/upstreams/nowhere');
    await call('updateUpstream', '/api/v1/upstreams/nowhere', { id: 'nowhere', url: 'http://127.0.0.1:9', username: 'u', password: 'p' });
    const rule = await call('createReplicationRule', '/api/v1/replication-rules', {
      sourcePattern: 'contract/**',
      target: { upstream: 'nowhere' },
    });
    await call('listReplicationRules', '/api/v1/replication-rules');
    await call('removeReplicationRule', `/api/v1/replication-rules/${rule.id}`);
    const rep = await call('replicate', '/api/v1/replications', {
      source: 'contract/base:1',
      target: { upstream: 'nowhere', name: 'copy' },
    });
    await call('replication', `/api/v1/replications/${rep.id}`);

    await call('putRetention', '/api/v1/retention', { repository: 'contract/*', keepLast: 5 });
    await call('listRetention', '/api/v1/retention');
    await call('deleteRetention', '/api/v1/retention?repository=contract/*');
    await call('putQuota', '/api/v1/quotas/contract', { limitBytes: 1 << 30 });
    await call('getQuota', '/api/v1/quotas/contract');
    await call('listQuotas', '/api/v1/quotas');
    await call('deleteQuota', '/api/v1/quotas/contract');
    const run = await call('runGc', '/api/v1/gc', { dryRun: true });
    expect((await settle(() => call('gcRun', `/api/v1/gc/runs/${run.id}`))).state).toBe('completed');
    await call('listGcRuns', '/api/v1/gc/runs');
    const pass = await call('runConsistency', '/api/v1/admin/consistency', { dryRun: true, waitSeconds: 120 });
    expect({ state: pass.state, dryRun: pass.result?.dryRun }).toEqual({ state: 'completed', dryRun: true });
    await call('listConsistencyRuns', '/api/v1/admin/consistency/runs');
    await call('removeUpstream', '/api/v1/upstreams/nowhere');
  });

  it('the session routes answer as the contract says', async () => {
    const signed = await http(s.url, 'POST', '/api/v1/session', JSON.stringify({ username: s.admin.user, password: s.admin.password }), {
      'content-type': 'application/json',
      authorization: '',
    });
    expect(signed.status).toBe(201);
    const cookie = signed.headers.get('set-cookie')!.split(';')[0];
    // The cookie alone (an empty Authorization is none), as a browser sends it.
    const byCookie = { cookie, authorization: '' };
    const session = await call('getSession', '/api/v1/session', undefined, byCookie);
    expect(session.user).toBe(s.admin.user);
    await call('createSession', '/api/v1/session', { username: s.admin.user, password: s.admin.password });
    await call('deleteSession', '/api/v1/session', undefined, { ...byCookie, 'x-csrf-token': session.csrfToken });
  });

  it('refuses a query string its route does not accept, naming the parameter', async () => {
    const bad: Array<[string, string, string]> = [
      ['GET', '/api/v1/images?n=0x10', 'n'],
      ['GET', '/api/v1/images?n=1e3', 'n'],
      ['GET', '/api/v1/images/inspect', 'ref'],
      ['DELETE', '/api/v1/retention', 'repository'],
      ['GET', '/api/v1/jobs?state=done', 'state'],
      ['GET', '/api/v1/jobs?n=1001', 'n'],
    ];
    for (const [method, path, parameter] of bad) {
      const r = await http(s.url, method, path);
      const error = r.json().errors?.[0];
      expect({ path, status: r.status, code: error?.code, names: String(error?.message).includes(parameter) }).toEqual({
        path,
        status: 400,
        code: 'INVALID_REQUEST',
        names: true,
      });
    }
  });

  it('left no route of the contract unchecked', () => {
    expect(Object.keys(apiRoutes).filter((n) => !checked.has(n as RouteName))).toEqual([]);
  });
});
