// Crash safety: kill -9 mid-upload and resume after restart; kill during manifest pushes never
// leaves a tag on a missing manifest; after Redis is flushed, reindex makes everything pullable.
import { randomBytes } from 'node:crypto';
import { startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { OCI_MANIFEST, flushEverywhere, http, openTestRedis, pushImage, sha256 } from '@stevedore/testing';

jest.setTimeout(240_000);

async function pullable(base: string, name: string, tag: string): Promise<void> {
  const m = await http(base, 'GET', `/v2/${name}/manifests/${tag}`, undefined, { accept: OCI_MANIFEST });
  expect({ tag, status: m.status }).toEqual({ tag, status: 200 });
  const manifest = m.json();
  for (const d of [manifest.config, ...manifest.layers]) {
    const b = await http(base, 'GET', `/v2/${name}/blobs/${d.digest}`);
    expect({ digest: d.digest, status: b.status }).toEqual({ digest: d.digest, status: 200 });
    expect(sha256(b.body)).toBe(d.digest);
  }
}

describe.each(['all', 'split'] as const)('crash safety (%s)', (wiring) => {
  let s: StevedoreUnderTest;
  beforeAll(async () => {
    // Processes are killed on purpose mid-push: the gateway answers 503 while a service is down.
    s = await startStevedore({ wiring, allow5xx: true });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('resumes a chunked upload after the serving process is killed mid-chunk', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const post = await http(s.url, 'POST', '/v2/crash/upload/blobs/uploads/');
    const loc = post.headers.get('location')!;
    const first = data.subarray(0, 1024 * 1024);
    const r1 = await http(s.url, 'PATCH', loc, first, {
      'content-type': 'application/octet-stream',
      'content-range': `0-${first.length - 1}`,
    });
    expect(r1.status).toBe(202);
    // A second chunk is cut off by kill -9 of the process that stores it (split: the gateway, which
    // runs layer storage's byte path itself).
    const victim = wiring === 'all' ? 'all' : 'gateway';
    let killed!: () => void;
    const wasKilled = new Promise<void>((r) => (killed = r));
    const slow = new ReadableStream({
      async start(controller) {
        controller.enqueue(data.subarray(first.length, first.length + 64 * 1024));
        await new Promise((r) => setTimeout(r, 300));
        s.kill(victim);
        killed();
        await new Promise((r) => setTimeout(r, 300));
        controller.close();
      },
    });
    const authorization = 'Basic ' + Buffer.from(`${s.admin.user}:${s.admin.password}`).toString('base64');
    const cut = await fetch(s.url + loc, {
      method: 'PATCH',
      body: slow,
      headers: { 'content-type': 'application/octet-stream', authorization },
      duplex: 'half',
    } as RequestInit).catch((e: Error) => e);
    // The chunk must not have been accepted: the connection is cut.
    const cutStatus = cut instanceof Response ? cut.status : 0;
    expect(cutStatus >= 200 && cutStatus < 300).toBe(false);
    await wasKilled;
    await s.restart(victim);
    const status = await http(s.url, 'GET', loc);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${first.length - 1}`);
    const rest = data.subarray(first.length);
    const r2 = await http(s.url, 'PATCH', loc, rest, {
      'content-type': 'application/octet-stream',
      'content-range': `${first.length}-${data.length - 1}`,
    });
    expect(r2.status).toBe(202);
    const put = await http(s.url, 'PUT', `${loc}?digest=${sha256(data)}`);
    expect(put.status).toBe(201);
    const get = await http(s.url, 'GET', `/v2/crash/upload/blobs/${sha256(data)}`);
    expect(get.body.equals(data)).toBe(true);
  });

  it('never leaves a tag pointing at a missing manifest when killed during pushes', async () => {
    await pushImage(s.url, 'crash/tags', 'before');
    let done = 0;
    const pushes = (async () => {
      for (let i = 0; i < 40; i++)
        await pushImage(s.url, 'crash/tags', `t${i}`).then(
          () => done++,
          () => undefined,
        );
    })();
    // Kill while pushes are in full flow.
    while (done < 3) await new Promise((r) => setTimeout(r, 20));
    s.kill(wiring === 'all' ? 'all' : 'metadata-service');
    await pushes;
    await s.restart(wiring === 'all' ? 'all' : 'metadata-service');
    const tags = (await http(s.url, 'GET', '/v2/crash/tags/tags/list')).json().tags as string[];
    expect(tags.length).toBeGreaterThan(0);
    for (const t of tags) await pullable(s.url, 'crash/tags', t);
  });

  it('rebuilds every index from storage after Redis is flushed', async () => {
    const imgs = [await pushImage(s.url, 'reindex/a', 'v1'), await pushImage(s.url, 'reindex/b', 'v2')];
    const redis = await openTestRedis(s.redisUrl);
    await flushEverywhere(redis);
    await redis.quit();
    // Listings come from Redis alone until reindex; a pull of b is served from storage (read
    // repair) meanwhile, which writes b's entries back. a is left for reindex to bring back.
    expect((await http(s.url, 'GET', '/v2/_catalog')).json().repositories).toEqual([]);
    await pullable(s.url, 'reindex/b', 'v2');
    expect((await http(s.url, 'GET', '/v2/reindex/b/tags/list')).json().tags).toEqual(['v2']);
    expect((await http(s.url, 'GET', '/v2/reindex/a/tags/list')).json().tags ?? []).toEqual([]);
    const counts = await s.reindex();
    expect(counts.manifests).toBeGreaterThanOrEqual(2);
    expect(counts.tags).toBeGreaterThanOrEqual(2);
    await pullable(s.url, 'reindex/a', 'v1');
    await pullable(s.url, 'reindex/b', 'v2');
    const cat = (await http(s.url, 'GET', '/v2/_catalog')).json().repositories;
    expect(cat).toEqual(expect.arrayContaining(['reindex/a', 'reindex/b']));
    expect(imgs[0].digest).toBe((await http(s.url, 'HEAD', '/v2/reindex/a/manifests/v1')).headers.get('docker-content-digest'));
  });
});
