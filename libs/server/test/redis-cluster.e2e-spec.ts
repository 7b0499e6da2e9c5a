// Stevedore on a Redis Cluster (REDIS_URL=redis+cluster://, 3 masters + 3 replicas), always, in the
// default test run: a push, pull, tag, untag, container commit and GC round trip through one
// all-in-one process; then a master is killed mid-way and, while its replica is promoted, pulls keep
// answering (or fail with a 503 to retry) and pushes succeed on retry. Other suites run whole on a
// cluster with STEVEDORE_TEST_REDIS=cluster; this one keeps the cluster path from rotting meanwhile.
import {
  OCI_MANIFEST,
  http,
  keysEverywhere,
  makeLayer,
  openTestRedis,
  pullWhole,
  pushBlob,
  pushImage,
  sha256,
  startStevedore,
  type StevedoreUnderTest,
  type UncheckedJson,
} from '@stevedore/testing';

jest.setTimeout(120_000);

let s: StevedoreUnderTest;

beforeAll(async () => {
  s = await startStevedore({
    redis: 'cluster',
    // The failover answers some requests 503 on purpose (Redis unavailable, retry).
    allow5xx: true,
    extraEnv: { STEVEDORE_GC_GRACE_SECONDS: '1', STEVEDORE_GC_UNTAGGED_MAX_AGE_SECONDS: '1', STEVEDORE_GC_SCHEDULE: 'off' },
  });
});
afterAll(async () => {
  await s?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function call(method: string, path: string, body?: unknown) {
  return http(
    s.url,
    method,
    path,
    body === undefined ? undefined : JSON.stringify(body),
    body === undefined ? {} : { 'content-type': 'application/json' },
  );
}

async function json(method: string, path: string, body: unknown, status: number): Promise<UncheckedJson> {
  const r = await call(method, path, body);
  if (r.status !== status) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
  return r.json();
}

async function waitJob(path: string): Promise<UncheckedJson> {
  for (let i = 0; i < 1200; i++) {
    const j = (await call('GET', path)).json();
    if (j.state === 'completed') return j;
    if (j.state === 'failed') throw new Error(`${path} failed: ${JSON.stringify(j.error)}`);
    await sleep(50);
  }
  throw new Error(`${path} did not finish`);
}

/** An image with one real gzip'd tar layer (containers unpack it). */
async function pushRunnable(name: string, tag: string): Promise<string> {
  const layer = makeLayer({ 'etc/hello': 'hi\n' });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(s.url, name, config), size: config.length },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await pushBlob(s.url, name, layer.gz), size: layer.gz.length },
      ],
    }),
  );
  const put = await http(s.url, 'PUT', `/v2/${name}/manifests/${tag}`, manifest, { 'content-type': OCI_MANIFEST });
  if (put.status !== 201) throw new Error(`PUT manifest: ${put.status} ${put.body}`);
  return sha256(manifest);
}

/** Retry `fn` while it fails (a failover's 503s), within `ms`. */
async function eventually<T>(fn: () => Promise<T>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await sleep(200);
    }
  }
}

describe('Stevedore on a Redis Cluster (3 masters + 3 replicas)', () => {
  it('runs on the cluster, its keys spread over the masters', async () => {
    expect(s.redisUrl).toMatch(/^redis\+cluster:\/\//);
    await pushImage(s.url, 'spread/a', 'v1');
    await pushImage(s.url, 'spread/b', 'v1');
    const redis = await openTestRedis(s.redisUrl);
    try {
      const masters = await s.redisCluster!.masters();
      expect(masters).toHaveLength(3);
      const perMaster = await Promise.all(
        (redis as unknown as { nodes(r: string): Array<{ keys(p: string): Promise<string[]> }> })
          .nodes('master')
          .map((n) => n.keys('stevedore:*')),
      );
      expect(perMaster.filter((k) => k.length > 0).length).toBeGreaterThan(1);
      // Queue keys hash-tagged, so BullMQ's scripts keep to one slot.
      expect((await keysEverywhere(redis, '{stevedore}:*')).length).toBeGreaterThan(0);
    } finally {
      await redis.quit();
    }
  });

  it('push, pull, tag, untag, commit and GC round trip', async () => {
    const base = await pushRunnable('cl/base', 'v1');
    expect(await pullWhole(s.url, 'cl/base', 'v1')).toEqual({ ok: true, digest: base });

    // Tag by digest under a second name, then untag it: the manifest stays under v1.
    const bytes = (await http(s.url, 'GET', `/v2/cl/base/manifests/${base}`, undefined, { accept: OCI_MANIFEST })).body;
    expect((await http(s.url, 'PUT', '/v2/cl/base/manifests/extra', bytes, { 'content-type': OCI_MANIFEST })).status).toBe(201);
    expect((await call('GET', '/v2/cl/base/tags/list')).json().tags).toEqual(['extra', 'v1']);
    expect((await call('DELETE', '/v2/cl/base/manifests/extra')).status).toBe(202);
    expect((await call('GET', '/v2/cl/base/tags/list')).json().tags).toEqual(['v1']);
    expect((await call('GET', '/v2/_catalog')).json().repositories).toEqual(expect.arrayContaining(['cl/base']));

    // A container of it, a file written, committed as a new image.
    const id = (await json('POST', '/api/v1/containers', { image: 'cl/base:v1' }, 201)).id;
    const put = await http(s.url, 'PUT', `/api/v1/containers/${id}/files?path=/new.txt`, Buffer.from('new\n'), {
      'content-type': 'application/octet-stream',
    });
    expect([put.status, put.status === 201 ? '' : put.body.toString()]).toEqual([201, '']);
    const job = await json('POST', '/api/v1/commits', { container: id, reference: 'cl/committed:1' }, 202);
    const done = await waitJob(`/api/v1/jobs/${job.id}`);
    expect(done.result.reference).toBe('cl/committed:1');
    const committed = await pullWhole(s.url, 'cl/committed', '1');
    expect(committed).toEqual({ ok: true, digest: done.result.digest });

    // An image untagged, then GC: its manifest and its own layer go; the tagged images stay whole.
    const drop = await pushImage(s.url, 'cl/drop', 'gone', { layers: [Buffer.from('only in the dropped image ' + 'x'.repeat(3000))] });
    expect((await call('DELETE', '/v2/cl/drop/manifests/gone')).status).toBe(202);
    await sleep(1500);
    const gcRun = await json('POST', '/api/v1/gc', {}, 202);
    const gc = (await waitJob(`/api/v1/gc/runs/${gcRun.id}`)).result;
    expect(gc.manifests.digests).toContainEqual({ repository: 'cl/drop', digest: drop.digest });
    expect(gc.blobs.digests).toContain(drop.layers[0].digest);
    expect((await call('GET', `/v2/cl/drop/manifests/${drop.digest}`)).status).toBe(404);
    expect((await call('GET', `/v2/cl/drop/blobs/${drop.layers[0].digest}`)).status).toBe(404);
    expect(await pullWhole(s.url, 'cl/base', 'v1')).toEqual({ ok: true, digest: base });
    expect(await pullWhole(s.url, 'cl/committed', '1')).toEqual({ ok: true, digest: done.result.digest });
  });

  it('a master killed mid-way: pulls go on (or answer 503 to retry), pushes succeed on retry', async () => {
    const before = await Promise.all(['a', 'b', 'c', 'd'].map((r) => pushImage(s.url, `fo/${r}`, 'v1')));
    // Replication is asynchronous: let the replicas have them before a master dies.
    await sleep(500);
    const statuses: number[] = [];
    let pulling = true;
    const puller = (async () => {
      while (pulling) {
        for (const [i, r] of ['a', 'b', 'c', 'd'].entries()) {
          const m = await http(s.url, 'GET', `/v2/fo/${r}/manifests/v1`, undefined, { accept: OCI_MANIFEST });
          statuses.push(m.status);
          if (m.status === 200) expect(sha256(m.body)).toBe(before[i].digest);
        }
        await sleep(50);
      }
    })();
    const victim = await s.redisCluster!.failoverMaster();
    expect(await s.redisCluster!.masters()).not.toContain(victim);
    // Writes after the promotion: each push succeeds, retried while the client catches up.
    const after = await Promise.all(['a', 'b', 'c', 'd'].map((r) => eventually(() => pushImage(s.url, `fo/${r}`, 'v2'))));
    pulling = false;
    await puller;
    // Only answers a client retries: served, or 503 while the slot had no master.
    expect(statuses.filter((c) => c !== 200 && c !== 503)).toEqual([]);
    expect(statuses.filter((c) => c === 200).length).toBeGreaterThan(0);
    for (const [i, r] of ['a', 'b', 'c', 'd'].entries()) {
      expect(await eventually(async () => pullWhole(s.url, `fo/${r}`, 'v1'))).toEqual({ ok: true, digest: before[i].digest });
      expect(await pullWhole(s.url, `fo/${r}`, 'v2')).toEqual({ ok: true, digest: after[i].digest });
    }
    // GC still runs (its queue and scripts) on the new master set.
    const gcRun = await eventually(() => json('POST', '/api/v1/gc', { dryRun: true }, 202));
    expect((await waitJob(`/api/v1/gc/runs/${gcRun.id}`)).result.dryRun).toBe(true);
  });
});
