// The all-in-one as a process group (STEVEDORE_PROCESSES=2, libs/server cluster.ts): two workers
// share the port; a chunked upload whose every request arrives on a new connection (so the
// round-robin hands them to both workers) completes with the right bytes; /metrics on any worker
// counts the requests of both; a worker killed with SIGKILL is replaced while the other serves;
// SIGTERM to the primary stops the whole group within the shutdown bound.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { startStevedore, type StevedoreUnderTest } from '@stevedore/testing';

jest.setTimeout(120_000);

let s: StevedoreUnderTest;

beforeAll(async () => {
  s = await startStevedore({ extraEnv: { STEVEDORE_PROCESSES: '2', STEVEDORE_AUTH: 'false', STEVEDORE_SHUTDOWN_TIMEOUT_SECONDS: '3' } });
  // The harness is ready when the first worker answers; the second starts after it.
  await until(() => s.logs().includes('all 2 workers serving'));
});

async function until(ok: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
afterAll(async () => {
  await s?.stop();
});

/** The primary's children: the worker processes. */
function workers(): number[] {
  try {
    return execFileSync('ps', ['--ppid', String(s.pid()), '-o', 'pid='])
      .toString()
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

/** One request on its own connection (no keep-alive), so consecutive requests may land on different workers. */
function request(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function chunkedUpload(repo: string, bytes: Buffer, chunk: number): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  let r = await request('POST', `${s.url}/v2/${repo}/blobs/uploads/`);
  expect(r.status).toBe(202);
  let location = new URL(String(r.headers.location), s.url).toString();
  for (let off = 0; off < bytes.length; off += chunk) {
    const part = bytes.subarray(off, Math.min(off + chunk, bytes.length));
    r = await request(
      'PATCH',
      location,
      {
        'content-type': 'application/octet-stream',
        'content-range': `${off}-${off + part.length - 1}`,
        'content-length': String(part.length),
      },
      part,
    );
    expect(r.status).toBe(202);
    location = new URL(String(r.headers.location), s.url).toString();
  }
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  r = await request('PUT', u.toString());
  expect(r.status).toBe(201);
  return digest;
}

describe('all-in-one as a process group', () => {
  it('runs two worker processes under one primary', () => {
    expect(workers()).toHaveLength(2);
  });

  it('completes chunked uploads whose requests land on either worker, with the bytes intact', async () => {
    const blobs = Array.from({ length: 6 }, () => randomBytes(700_000 + Math.floor(Math.random() * 100_000)));
    const digests = await Promise.all(blobs.map((b, i) => chunkedUpload(`group/u${i}`, b, 256 * 1024)));
    for (const [i, d] of digests.entries()) {
      const r = await request('GET', `${s.url}/v2/group/u${i}/blobs/${d}`);
      expect(r.status).toBe(200);
      expect(`sha256:${createHash('sha256').update(r.body).digest('hex')}`).toBe(d);
    }
  });

  it('answers /metrics with the requests of every worker', async () => {
    const before = await baseRequests();
    for (let i = 0; i < 10; i++) expect((await request('GET', `${s.url}/v2/`)).status).toBe(200);
    // Each scrape lands on one worker; the count covers the ten requests whichever served them.
    expect((await baseRequests()) - before).toBe(10);
  });

  it('replaces a worker killed with SIGKILL while the other keeps serving', async () => {
    const [victim] = workers();
    process.kill(victim, 'SIGKILL');
    // A connection the victim accepted in its last instant is reset, as with any crashed server;
    // what matters is that none is handed to it once it is gone (the primary reaps it at once).
    while (workers().includes(victim)) await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 5; i++) expect((await request('GET', `${s.url}/v2/`)).status).toBe(200);
    // Its replacement serves too (the primary counts it in again).
    const served = s.logs().split('all 2 workers serving').length;
    await until(() => s.logs().split('all 2 workers serving').length > served);
    expect(workers()).toHaveLength(2);
    expect(workers()).not.toContain(victim);
  });

  it('stops the whole group on SIGTERM to the primary, within the shutdown bound', async () => {
    const group = workers();
    const primary = s.pid();
    const started = Date.now();
    process.kill(primary, 'SIGTERM');
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    while (Date.now() - started < 20_000 && [primary, ...group].some(alive)) await new Promise((r) => setTimeout(r, 100));
    expect([primary, ...group].filter(alive)).toEqual([]);
    // The bound, not a speed: the workers' shutdown timeout (3 s here) plus the primary's backstop (15 s).
    expect(Date.now() - started).toBeLessThan((3 + 15) * 1000);
  });
});

async function baseRequests(): Promise<number> {
  const text = (await request('GET', `${s.url}/metrics`)).body.toString();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('stevedore_http_requests_total{') && l.includes('route="v2.base"') && l.includes('status="200"'));
  return line ? Number(line.split(' ').pop()) : 0;
}
