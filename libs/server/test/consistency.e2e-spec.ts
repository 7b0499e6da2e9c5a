// The consistency pass against real processes (all-in-one and split, the pass on a commit-worker
// there; filesystem storage, and S3 all-in-one): index entries are deleted or altered in Redis
// behind the registry's back, an admin runs the pass through POST /api/v1/admin/consistency, and
// every entry is repaired towards storage, counted in /metrics; a tag deleted through the API stays
// deleted; only admins may run it. Then the schedule: it runs unasked, one job per interval.
import Redis from 'ioredis';
import {
  OCI_MANIFEST,
  http,
  pullWhole,
  pushImage,
  startStevedore,
  type StevedoreUnderTest,
  type StorageKind,
  type Wiring,
} from '@stevedore/testing';

jest.setTimeout(240_000);

describe.each([
  ['all', 'filesystem'],
  ['split', 'filesystem'],
  ['all', 's3'],
] as Array<[Wiring, StorageKind]>)('consistency pass (%s, %s)', (wiring, storage) => {
  let s: StevedoreUnderTest;
  let redis: Redis;
  beforeAll(async () => {
    s = await startStevedore({ wiring, storage, commitWorkers: 1 });
    redis = new Redis(s.redisUrl);
  });
  afterAll(async () => {
    redis?.disconnect();
    await s?.stop();
  });

  /** The one key matching `pattern` (the layouts' keys under the default prefix). */
  async function key(pattern: string): Promise<string> {
    const keys = await redis.keys(pattern);
    expect(keys).toHaveLength(1);
    return keys[0];
  }

  async function metric(name: string, labels = ''): Promise<number> {
    // The pass runs where the workers are: the commit-worker when split.
    const where = wiring === 'split' ? s.urlOf('commit-worker-1') : s.url;
    const text = (await http(where, 'GET', '/metrics')).body.toString();
    const re = new RegExp(`^${name}\\{[^}]*${labels}[^}]*\\} ([0-9.e+]+)`, 'gm');
    return [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  }

  const runPass = (body: unknown = {}) =>
    http(s.url, 'POST', '/api/v1/admin/consistency', JSON.stringify(body), { 'content-type': 'application/json' });

  it('repairs what was deleted or altered in Redis, counts it, and leaves a deleted tag deleted', async () => {
    const one = await pushImage(s.url, 'cons/app', 'v1');
    await pushImage(s.url, 'cons/app', 'v2');
    const other = await pushImage(s.url, 'cons/other', 'v1');
    expect((await http(s.url, 'DELETE', '/v2/cons/app/manifests/v2')).status).toBe(202);

    const tags = await key('*:repo:{cons/app}:tags');
    await redis.hdel(tags, 'v1');
    await redis.hset(tags, 'ghost', one.digest);
    await redis.hset(await key('*:repo:{cons/other}:tags'), 'v1', one.digest);
    await redis.srem(await key('*:repo:{cons/app}:layers'), one.layers[0].digest);
    await redis.del(await key(`*:manifest:${one.digest}`));
    await redis.zrem(await key('*:catalog'), 'cons/other');
    const before = await metric('stevedore_consistency_repairs_total');

    // A dry run reports and changes nothing.
    const dry = await runPass({ dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.json()).toMatchObject({ kind: 'consistency', state: 'completed', result: { dryRun: true, found: 6, repaired: 0 } });
    expect(await redis.hget(tags, 'v1')).toBeNull();

    const r = await runPass();
    expect(r.status).toBe(200);
    const run = r.json();
    expect(run).toMatchObject({ kind: 'consistency', state: 'completed', request: { dryRun: false } });
    expect(run.result).toMatchObject({
      dryRun: false,
      found: 6,
      repaired: 6,
      byKind: {
        tag: { add: 1, remove: 1, correct: 1 },
        link: { add: 1, remove: 0, correct: 0 },
        manifest: { add: 1, remove: 0, correct: 0 },
        catalog: { add: 1, remove: 0, correct: 0 },
      },
    });

    // Redis agrees with storage again: the API's answers (Redis only) show it.
    const list = JSON.parse((await http(s.url, 'GET', '/v2/cons/app/tags/list')).body.toString());
    expect(list.tags).toEqual(['v1']);
    expect((await http(s.url, 'GET', '/v2/cons/app/manifests/v2', undefined, { accept: OCI_MANIFEST })).status).toBe(404);
    expect(await pullWhole(s.url, 'cons/app', 'v1')).toEqual({ ok: true, digest: one.digest });
    expect(await redis.hget(await key('*:repo:{cons/other}:tags'), 'v1')).toBe(other.digest);
    expect(JSON.parse((await http(s.url, 'GET', '/v2/_catalog')).body.toString()).repositories).toContain('cons/other');

    expect(await metric('stevedore_consistency_repairs_total')).toBe(before + 6);
    expect(await metric('stevedore_consistency_repairs_total', 'action="correct"')).toBeGreaterThanOrEqual(1);
    expect(await metric('stevedore_consistency_last_run_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 120);

    const again = (await runPass()).json();
    expect(again.result).toMatchObject({ found: 0, repaired: 0 });
    const runs = (await http(s.url, 'GET', '/api/v1/admin/consistency/runs')).json().runs as Array<{ id: string }>;
    expect(runs.map((x) => x.id)).toEqual(expect.arrayContaining([run.id, dry.json().id]));
  });

  it('runs before every GC: a manifest whose tag and revision Redis lost keeps itself and its blobs', async () => {
    // What a failover that dropped the last writes leaves: the blob pushes (their links, records and
    // touch stamps) reached the replica, the manifest's entries did not. GC marks from Redis.
    const img = await pushImage(s.url, 'cons/gc', 'v1');
    for (const pattern of ['*:repo:{cons/gc}:tags', '*:repo:{cons/gc}:tagnames', '*:repo:{cons/gc}:revisions', `*:manifest:${img.digest}`])
      await redis.del(await key(pattern));
    const res = await http(s.url, 'POST', '/api/v1/gc', JSON.stringify({ graceSeconds: 0 }), { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    let run: { state: string; result?: { consistency?: { repaired: number }; blobs: { digests: string[] } } } = { state: '' };
    for (let i = 0; i < 600 && run.state !== 'completed' && run.state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      run = (await http(s.url, 'GET', `/api/v1/gc/runs/${res.json().id}`)).json();
    }
    expect(run.state).toBe('completed');
    expect(run.result!.consistency!.repaired).toBeGreaterThanOrEqual(2);
    for (const d of [img.config.digest, ...img.layers.map((l) => l.digest)]) expect(run.result!.blobs.digests).not.toContain(d);
    expect(await pullWhole(s.url, 'cons/gc', 'v1')).toEqual({ ok: true, digest: img.digest });
  });

  it('is for admins only', async () => {
    expect(
      (await http(s.url, 'POST', '/api/v1/admin/consistency', '{}', { 'content-type': 'application/json', authorization: '' })).status,
    ).toBe(401);
    expect((await runPass({ dryRun: 'yes' })).status).toBe(400);
  });
});

describe('consistency pass on its schedule (all-in-one, two processes)', () => {
  let s: StevedoreUnderTest;
  let redis: Redis;
  beforeAll(async () => {
    s = await startStevedore({ extraEnv: { STEVEDORE_CONSISTENCY_INTERVAL: '3s', STEVEDORE_PROCESSES: '2' } });
    redis = new Redis(s.redisUrl);
  });
  afterAll(async () => {
    redis?.disconnect();
    await s?.stop();
  });

  it('runs every interval, once per interval across the processes, and repairs without being asked', async () => {
    await pushImage(s.url, 'sched/app', 'v1');
    const [tags] = await redis.keys('*:repo:{sched/app}:tags');
    await redis.hdel(tags, 'v1');
    const started = Date.now();
    type Run = { state: string; request: { scheduled?: boolean }; result?: { repaired: number } };
    let runs: Run[] = [];
    for (let i = 0; i < 150; i++) {
      runs = ((await http(s.url, 'GET', '/api/v1/admin/consistency/runs')).json().runs as Run[]).filter(
        (r) => r.request.scheduled && r.state === 'completed',
      );
      if (runs.length >= 3 && (await redis.hget(tags, 'v1'))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await redis.hget(tags, 'v1')).not.toBeNull();
    expect(runs.some((r) => r.result!.repaired === 1)).toBe(true);
    // One job per interval for the whole group, however many processes work the queue (two
    // processes, each upserting the scheduler): no more runs than intervals went by.
    const all = (await http(s.url, 'GET', '/api/v1/admin/consistency/runs')).json().runs as Array<Run & { id: string }>;
    const scheduled = all.filter((r) => r.request.scheduled);
    expect(new Set(scheduled.map((r) => r.id)).size).toBe(scheduled.length);
    expect(scheduled.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 3000) + 2);
  });
});
