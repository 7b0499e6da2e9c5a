// The rig's haproxy.cfg (deploy/local/haproxy.ts) does what its comments claim, against a real
// HAProxy and two small HTTP servers standing in for replicas: a request whose replica dies under it
// (the connection cut before any answer) is resent to the other one for idempotent methods (GET,
// PUT) and not for POST; a refused connection is redispatched for any method; a 503 with Retry-After
// reaches the client as it is; with no replica at all the client gets 503 with Retry-After.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort, requireBinary, waitFor } from '@stevedore/testing';
import { haproxyConfig } from '../local/haproxy';

jest.setTimeout(60_000);

interface Replica {
  server: Server;
  port: number;
  hits: string[];
}

/** `dies`: requests (other than health checks) get their connection cut, as a replica killed with -9. */
async function replica(name: string, behaviour: { dies?: boolean; busy?: boolean } = {}): Promise<Replica> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/readyz') return res.end('ok');
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      if (behaviour.dies) return req.socket.destroy();
      if (behaviour.busy) return res.writeHead(503, { 'retry-after': '1' }).end('busy');
      res.end(name);
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, port, hits };
}

describe('haproxy.cfg of the rig', () => {
  let dir: string;
  let proxy: ChildProcess | undefined;
  const servers: Server[] = [];

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rig-haproxy-'));
  });
  afterAll(async () => {
    if (proxy?.pid) process.kill(proxy.pid, 'SIGKILL');
    for (const s of servers) await new Promise((r) => s.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(replicas: Array<{ name: string; port: number }>, stickyUploads = false): Promise<string> {
    const port = await freePort();
    const cfg = path.join(dir, `haproxy-${port}.cfg`);
    writeFileSync(cfg, haproxyConfig(dir, [{ name: 'ingress', port, servers: replicas, stickyUploads }]));
    if (proxy?.pid) process.kill(proxy.pid, 'SIGKILL');
    proxy = spawn(requireBinary('haproxy', 'haproxy'), ['-db', '-f', cfg], { stdio: 'ignore' });
    await waitFor(`http://127.0.0.1:${port}/readyz`, 10_000);
    return `http://127.0.0.1:${port}`;
  }

  it('resends GET and PUT cut by a dying replica to the other one, never a POST; redispatches refused connections', async () => {
    const dying = await replica('dying', { dies: true });
    const alive = await replica('alive');
    servers.push(dying.server, alive.server);
    const gone = await freePort(); // nothing listens: a replica already dead
    const url = await start([
      { name: 'dying', port: dying.port },
      { name: 'alive', port: alive.port },
      { name: 'gone', port: gone },
    ]);
    // Round robin: every replica is tried in turn; a GET or PUT always ends on the live one.
    for (let i = 0; i < 6; i++) {
      const get = await fetch(`${url}/v2/a/manifests/t${i}`);
      expect({ i, status: get.status, body: await get.text() }).toEqual({ i, status: 200, body: 'alive' });
      const put = await fetch(`${url}/v2/a/manifests/t${i}`, { method: 'PUT', body: '{"schemaVersion":2}' });
      expect({ i, status: put.status, body: await put.text() }).toEqual({ i, status: 200, body: 'alive' });
    }
    expect(dying.hits.length).toBeGreaterThan(0);
    // A POST the dying replica saw is not sent again: its client sees the failure (a 502, or the
    // connection cut).
    const outcomes = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const post = await fetch(`${url}/v2/a/blobs/uploads/`, { method: 'POST', body: 'x' }).then(
        async (r) => `${r.status} ${await r.text()}`,
        () => 'cut',
      );
      outcomes.add(post === 'cut' || post.startsWith('502') ? 'failed' : post);
    }
    expect([...outcomes].sort()).toEqual(['200 alive', 'failed']);
    const posts = (r: Replica) => r.hits.filter((h) => h.startsWith('POST')).length;
    // Each POST reached exactly one replica: 6 in all, none twice.
    expect(posts(dying) + posts(alive)).toBe(6);
  });

  it('keeps each upload session on one replica, spreads sessions and everything else, and moves the sessions of a replica that went away', async () => {
    const rs = await Promise.all(['r1', 'r2', 'r3'].map((n) => replica(n)));
    servers.push(...rs.map((r) => r.server));
    const url = await start(
      rs.map((r, i) => ({ name: `r${i + 1}`, port: r.port })),
      true,
    );
    const served = async (method: string, p: string) => {
      const res = await fetch(`${url}${p}`, { method, body: method === 'PATCH' || method === 'PUT' ? 'chunk' : undefined });
      return res.text();
    };
    const sessions = Array.from({ length: 24 }, (_, i) => `/v2/team/app/blobs/uploads/session-${i}`);
    const home = new Map<string, string>();
    for (const s of sessions) {
      // A session's chunks, a status GET and its closing PUT (with a query) all reach one replica.
      const seen = new Set<string>();
      for (let c = 0; c < 3; c++) seen.add(await served('PATCH', s));
      seen.add(await served('GET', s));
      seen.add(await served('PUT', `${s}?digest=sha256:${'0'.repeat(64)}`));
      expect({ s, replicas: seen.size }).toEqual({ s, replicas: 1 });
      home.set(s, [...seen][0]);
    }
    // Sessions are spread over the replicas, and so is everything else (round robin).
    expect(new Set(home.values()).size).toBeGreaterThanOrEqual(2);
    const others = new Set<string>();
    for (let i = 0; i < 6; i++) others.add(await served('GET', '/v2/team/app/manifests/latest'));
    expect(others.size).toBe(3);
    // A replica goes away: its sessions move to the others; every other session stays where it was.
    const goneName = home.get(sessions[0])!;
    const gone = rs[Number(goneName.slice(1)) - 1];
    gone.server.closeAllConnections();
    await new Promise((r) => gone.server.close(r));
    for (let i = 0; i < 3; i++) await served('GET', '/v2/team/app/manifests/latest').catch(() => undefined); // seen refused: marked down
    for (const s of sessions) {
      const now = await served('PATCH', s);
      if (home.get(s) === goneName) expect({ s, moved: now !== goneName }).toEqual({ s, moved: true });
      else expect({ s, replica: now }).toEqual({ s, replica: home.get(s) });
    }
  });

  it('passes a 503 with Retry-After through, and answers 503 with Retry-After itself when no replica is up', async () => {
    const busy = await replica('busy', { busy: true });
    servers.push(busy.server);
    let url = await start([{ name: 'busy', port: busy.port }]);
    const a = await fetch(`${url}/v2/x/manifests/1`);
    expect({ status: a.status, retryAfter: a.headers.get('retry-after'), body: await a.text() }).toEqual({
      status: 503,
      retryAfter: '1',
      body: 'busy',
    });
    expect(busy.hits).toEqual(['GET /v2/x/manifests/1']); // not retried by the proxy
    url = await start([{ name: 'gone', port: await freePort() }]);
    let b: Response | undefined;
    // The dead replica is marked down at its first refused connection (observe layer4).
    for (let i = 0; i < 5; i++) b = await fetch(`${url}/v2/x/manifests/1`);
    expect({ status: b!.status, retryAfter: b!.headers.get('retry-after') }).toEqual({ status: 503, retryAfter: '1' });
    expect(await b!.text()).toContain('load balancer');
  });
});
