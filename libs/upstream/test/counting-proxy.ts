// A tiny HTTP proxy in front of a test registry: counts requests by method and path, and can
// stand in for a token-protected registry (401 + Bearer challenge, a /token endpoint that trades
// Basic credentials for a token), as Docker Hub does.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface CountingProxy {
  url: string;
  /** `GET /v2/...` -> number of requests seen. */
  counts: Map<string, number>;
  count(method: string, pathPrefix: string): number;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string, bearer?: { username: string; password: string }): Promise<CountingProxy> {
  const counts = new Map<string, number>();
  const tokens = new Set<string>();
  const t = new URL(target);
  let self = '';
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const key = `${req.method} ${path.split('?')[0]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (bearer && path.startsWith('/token')) {
      const want = 'Basic ' + Buffer.from(`${bearer.username}:${bearer.password}`).toString('base64');
      if (req.headers.authorization !== want) {
        res.writeHead(401).end();
        return;
      }
      const token = randomBytes(16).toString('hex');
      tokens.add(token);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    if (bearer && path.startsWith('/v2/')) {
      const got = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!got || !tokens.has(got)) {
        req.resume();
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${self}/token",service="counting-proxy"`,
          'content-type': 'application/json',
        });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
    }
    const headers = { ...req.headers, host: t.host };
    delete headers.authorization;
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path, headers }, (ur) => {
      const h = { ...ur.headers };
      // Keep Location pointing at the proxy, so follow-ups are counted (and authenticated) here too.
      if (typeof h.location === 'string') h.location = h.location.replace(target, self);
      res.writeHead(ur.statusCode ?? 502, h);
      ur.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: self,
    counts,
    count(method, prefix) {
      let n = 0;
      for (const [k, v] of counts) if (k.startsWith(`${method} ${prefix}`)) n += v;
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
