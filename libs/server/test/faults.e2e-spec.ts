// Faults are bounded, against a real all-in-one platform and a real Redis: with Redis stopped or
// frozen (SIGSTOP) every request that needs it answers 503 with Retry-After within 2 s and the
// platform recovers by itself; every health check says down; SIGTERM exits in time with Redis down
// and with uploads in flight (which resume after a restart); start-up without Redis says what to do.
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, pushImage, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';

const run = promisify(execFile);
jest.setTimeout(300_000);
const root = path.resolve(__dirname, '../../..');
const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  ms: number;
}

function client(s: StevedoreUnderTest) {
  const auth = 'Basic ' + Buffer.from(`${s.admin.user}:${s.admin.password}`).toString('base64');
  return async (method: string, p: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Answer> => {
    const t0 = Date.now();
    const res = await fetch(s.url + p, { method, body, headers: { authorization: auth, ...headers }, signal: AbortSignal.timeout(20_000) });
    return { status: res.status, headers: res.headers, text: await res.text(), ms: Date.now() - t0 };
  };
}

/** The redis-server processes of REDIS_URL: one, or every node of a cluster (STEVEDORE_TEST_REDIS=cluster). */
async function redisPids(url: string): Promise<number[]> {
  const ports = /^redis\+cluster:\/\/(.*)$/
    .exec(url)?.[1]
    .split(',')
    .map((hp) => hp.split(':')[1]) ?? [new URL(url).port];
  return Promise.all(
    ports.map(async (port) => {
      const info = (await run('redis-cli', ['-p', port, 'info', 'server'])).stdout;
      return Number(/process_id:(\d+)/.exec(info)![1]);
    }),
  );
}

function exited(pid: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      try {
        process.kill(pid, 0);
      } catch {
        clearInterval(t);
        resolve();
      }
    }, 50);
  });
}

describe('Redis outages fail fast and recover', () => {
  let s: StevedoreUnderTest;
  let call: ReturnType<typeof client>;
  let kept: Awaited<ReturnType<typeof pushImage>>;

  beforeAll(async () => {
    // The outages are the point: their 503s are asked for.
    s = await startStevedore({ allow5xx: true });
    call = client(s);
    const data = randomBytes(100);
    expect((await call('POST', `/v2/app/x/blobs/uploads/?digest=${sha256(data)}`, data)).status).toBe(201);
    kept = await pushImage(s.url, 'app/kept', 'v1');
  });
  afterAll(() => s?.stop());

  const needRedis = [
    '/v2/app/x/manifests/v1',
    '/v2/app/x/blobs/sha256:' + '0'.repeat(64),
    '/auth/token?service=stevedore&scope=repository:app/x:pull',
    '/api/v1/containers',
    '/api/v1/images?repository=app/x',
  ];

  it('with Redis stopped: 503 and Retry-After within 2 s on every path that needs it, pulls from storage; health says down; then recovers', async () => {
    // A client that has its token (docker, skopeo, podman: Bearer) pulls on through the outage.
    const scope = 'repository:app/kept:pull';
    const token = JSON.parse((await call('GET', `/auth/token?service=stevedore&scope=${scope}`)).text).token as string;
    const bearer = { authorization: `Bearer ${token}` };
    await s.stopRedis();
    for (const p of needRedis) {
      const a = await call('GET', p);
      expect({ p, status: a.status, fast: a.ms < 2000, retry: a.headers.get('retry-after') }).toEqual({
        p,
        status: 503,
        fast: true,
        retry: '1',
      });
    }
    // What storage holds is still pulled, by tag and by digest, with its blobs: Redis only indexes it.
    const OCI = { accept: 'application/vnd.oci.image.manifest.v1+json', ...bearer };
    for (const ref of ['v1', kept.digest]) {
      const m = await call('GET', `/v2/app/kept/manifests/${ref}`, undefined, OCI);
      expect({ ref, status: m.status, digest: m.headers.get('docker-content-digest') }).toEqual({ ref, status: 200, digest: kept.digest });
      expect(sha256(Buffer.from(m.text))).toBe(kept.digest);
    }
    for (const b of [kept.config, ...kept.layers])
      expect((await call('GET', `/v2/app/kept/blobs/${b.digest}`, undefined, bearer)).status).toBe(200);
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(503);
    const checks = JSON.parse(ready.text).error;
    expect(checks.redis.status).toBe('down');
    expect(checks['commit-queue'].status).toBe('down');
    await s.startRedis();
    // The index is empty now (a fresh Redis); what matters is that requests are answered again.
    const deadline = Date.now() + 15_000;
    let back = false;
    while (!back && Date.now() < deadline) {
      back = (await call('GET', '/api/v1/containers')).status === 200;
      if (!back) await new Promise((r) => setTimeout(r, 200));
    }
    expect(back).toBe(true);
    expect((await call('GET', '/readyz')).status).toBe(200);
  });

  it('with Redis frozen (SIGSTOP): 503 within 2 s, then answers again when it thaws', async () => {
    const pids = await redisPids(s.redisUrl);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      for (const p of needRedis.slice(0, 3)) {
        const a = await call('GET', p);
        expect({ p, status: a.status, fast: a.ms < 2000 }).toEqual({ p, status: 503, fast: true });
      }
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) status = (await call('GET', '/api/v1/containers')).status;
    expect(status).toBe(200);
  });

  it('SIGTERM with Redis stopped exits in under 10 s', async () => {
    await s.stopRedis();
    const pid = s.pid();
    const t0 = Date.now();
    process.kill(pid, 'SIGTERM');
    await exited(pid);
    expect(Date.now() - t0).toBeLessThan(10_000);
    await s.startRedis();
  });
});

describe('bounded shutdown with uploads in flight', () => {
  let s: StevedoreUnderTest;
  let call: ReturnType<typeof client>;

  beforeAll(async () => {
    // Connections cut at the deadline may log 5xx for the uploads they carried.
    s = await startStevedore({ extraEnv: { STEVEDORE_SHUTDOWN_TIMEOUT_SECONDS: '4' }, allow5xx: true });
    call = client(s);
  });
  afterAll(() => s?.stop());

  it('SIGTERM with 20 uploads in flight exits in under 10 s, and the uploads resume after a restart', async () => {
    const chunk = randomBytes(64 * 1024);
    const rest = randomBytes(64 * 1024);
    const uploads: string[] = [];
    for (let i = 0; i < 20; i++) {
      const post = await call('POST', `/v2/up/load${i}/blobs/uploads/`);
      expect(post.status).toBe(202);
      const loc = post.headers.get('location')!;
      const patch = await call('PATCH', loc, chunk, {
        'content-type': 'application/octet-stream',
        'content-range': `0-${chunk.length - 1}`,
      });
      expect(patch.status).toBe(202);
      uploads.push(patch.headers.get('location')!);
    }
    // 20 second chunks that never finish: a client trickling bytes while the process is asked to stop.
    const port = new URL(s.url).port;
    const trickles = uploads.map((loc) => {
      const child = spawn(
        'curl',
        [
          '-s',
          '-o',
          '/dev/null',
          '-X',
          'PATCH',
          '-H',
          'content-type: application/octet-stream',
          '-H',
          `content-range: ${chunk.length}-${chunk.length * 2 - 1}`,
          '-H',
          `authorization: Basic ${Buffer.from(`${s.admin.user}:${s.admin.password}`).toString('base64')}`,
          '--limit-rate',
          '1k',
          '--data-binary',
          '@-',
          `http://127.0.0.1:${port}${loc}`,
        ],
        { stdio: ['pipe', 'ignore', 'ignore'] },
      );
      child.stdin.write(randomBytes(chunk.length));
      return child;
    });
    await new Promise((r) => setTimeout(r, 1000));
    const pid = s.pid();
    const t0 = Date.now();
    process.kill(pid, 'SIGTERM');
    await exited(pid);
    expect(Date.now() - t0).toBeLessThan(10_000);
    for (const t of trickles) t.kill('SIGKILL');

    await s.restart();
    for (let i = 0; i < uploads.length; i++) {
      const status = await call('GET', uploads[i]);
      expect(status.status).toBe(204);
      expect(status.headers.get('range')).toBe(`0-${chunk.length - 1}`);
      const blob = Buffer.concat([chunk, rest]);
      const put = await call('PUT', `${uploads[i]}${uploads[i].includes('?') ? '&' : '?'}digest=${sha256(blob)}`, rest, {
        'content-type': 'application/octet-stream',
        'content-range': `${chunk.length}-${blob.length - 1}`,
      });
      expect(put.status).toBe(201);
      expect((await call('HEAD', `/v2/up/load${i}/blobs/${sha256(blob)}`)).status).toBe(200);
    }
  });
});

describe('start-up without Redis', () => {
  it('says where it looked and how to start one, without stack traces', async () => {
    const port = await freePort();
    const r = await run(process.execPath, ['-r', '@swc-node/register', path.join(root, 'libs/server/test/main-for-tests.ts')], {
      cwd: root,
      env: {
        ...process.env,
        STEVEDORE_TARGET: 'all',
        REDIS_URL: `redis://127.0.0.1:${port}`,
        STEVEDORE_DATA_DIR: `/tmp/stevedore-noredis-${port}`,
        PORT: '0',
        LOG_LEVEL: 'warn',
      },
    }).then(
      () => ({ code: 0, out: '' }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
    expect(r.code).toBe(1);
    expect(r.out).toContain(`cannot connect to Redis at redis://127.0.0.1:${port}`);
    expect(r.out).toContain(`redis-server --port ${port}`);
    expect(r.out).not.toMatch(/\[ioredis\]| {4}at /);
  });
});

describe('instance identity: a Redis indexes one storage', () => {
  let a: StevedoreUnderTest;
  beforeAll(async () => {
    a = await startStevedore();
  });
  afterAll(() => a?.stop());

  it('a second platform on the same Redis and prefix refuses to start and says what to do; another prefix starts', async () => {
    const err = await startStevedore({ extraEnv: { REDIS_URL: a.redisUrl } }).then(
      async (b) => {
        await b.stop();
        return undefined;
      },
      (e: Error) => e,
    );
    expect(err?.message).toContain('holds the indexes of another Stevedore');
    expect(err?.message).toContain('STEVEDORE_REDIS_PREFIX');
    // The first one is untouched: its admin still logs in.
    expect((await client(a)('GET', '/v2/')).status).toBe(200);
    const b = await startStevedore({ extraEnv: { REDIS_URL: a.redisUrl, STEVEDORE_REDIS_PREFIX: 'second' } });
    try {
      expect((await client(b)('GET', '/v2/')).status).toBe(200);
    } finally {
      await b.stop();
    }
  });

  it('a fresh Redis is adopted and rebuilt from storage at start: tags pull again without a manual reindex, retention rules and quota limits are kept', async () => {
    const call = client(a);
    const layer = randomBytes(200);
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} }),
    );
    for (const b of [layer, config]) expect((await call('POST', `/v2/kept/app/blobs/uploads/?digest=${sha256(b)}`, b)).status).toBe(201);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    });
    expect(
      (await call('PUT', '/v2/kept/app/manifests/v1', manifest, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' })).status,
    ).toBe(201);
    // Operator settings are durable in storage too.
    const json = { 'content-type': 'application/json' };
    expect((await call('PUT', '/api/v1/retention', JSON.stringify({ repository: 'kept/*', keepLast: 3 }), json)).status).toBe(200);
    expect((await call('PUT', '/api/v1/quotas/kept', JSON.stringify({ limitBytes: 123456789 }), json)).status).toBe(200);
    await a.stopRedis();
    await a.startRedis();
    await a.restart();
    const got = await call('GET', '/v2/kept/app/manifests/v1', undefined, { accept: 'application/vnd.oci.image.manifest.v1+json' });
    expect(got.status).toBe(200);
    expect(got.text).toBe(manifest);
    expect(JSON.parse((await call('GET', '/api/v1/retention')).text).rules).toEqual([{ repository: 'kept/*', keepLast: 3 }]);
    expect(JSON.parse((await call('GET', '/api/v1/quotas/kept')).text).limitBytes).toBe(123456789);
  });
});
