// InternalClient against real sockets: a callee that is gone, or whose connection is lost before it
// answers, or a proxy in between answering 502-504, is a 503 UNAVAILABLE with Retry-After (another
// replica will take the retry); the service's own errors still cross intact.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryError } from '@stevedore/oci';
import { InternalClient } from './internal-http';

function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })),
  );
}

async function failure(p: Promise<unknown>): Promise<RegistryError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(RegistryError);
  return e as RegistryError;
}

describe('InternalClient when the callee is not there', () => {
  const servers: Server[] = [];
  const clients: InternalClient[] = [];
  const client = (url: string) => {
    const c = new InternalClient(url, 'token');
    clients.push(c);
    return c;
  };
  afterAll(async () => {
    for (const c of clients) await c.close();
    for (const s of servers) await new Promise((r) => s.close(r));
  });

  it('a refused connection (the replica is down) is 503 with Retry-After', async () => {
    const { server, url } = await serve(() => undefined);
    await new Promise((r) => server.close(r));
    const e = await failure(client(url).call({ method: 'GET', path: '/x' }));
    expect({ code: e.code, status: e.status, detail: e.detail }).toEqual({
      code: 'UNAVAILABLE',
      status: 503,
      detail: { retryAfterSeconds: 1 },
    });
    expect(e.message).toContain('ECONNREFUSED');
  });

  it('a connection lost before the answer (the replica was killed mid-request) is 503, for a write too', async () => {
    const { server, url } = await serve((req) => req.socket.destroy());
    servers.push(server);
    const e = await failure(client(url).call({ method: 'PUT', path: '/tags/x', json: { digest: 'sha256:0' } }));
    expect({ code: e.code, status: e.status, detail: e.detail }).toEqual({
      code: 'UNAVAILABLE',
      status: 503,
      detail: { retryAfterSeconds: 1 },
    });
  });

  it('502, 503 and 504 from a proxy in between (no OCI envelope) are 503 UNAVAILABLE', async () => {
    let status = 502;
    const { server, url } = await serve((_req, res) =>
      res.writeHead(status, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>'),
    );
    servers.push(server);
    for (status of [502, 503, 504]) {
      const e = await failure(client(url).call({ method: 'GET', path: '/x' }));
      expect({ status, code: e.code, http: e.status, detail: e.detail }).toEqual({
        status,
        code: 'UNAVAILABLE',
        http: 503,
        detail: { retryAfterSeconds: 1 },
      });
    }
  });

  it("the service's own errors cross as they were: 404, 500, and a 503 with its own detail", async () => {
    let answer: [number, unknown] = [404, {}];
    const { server, url } = await serve((_req, res) =>
      res.writeHead(answer[0], { 'content-type': 'application/json' }).end(JSON.stringify(answer[1])),
    );
    servers.push(server);
    const c = client(url);
    answer = [404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { tag: 'v1' } }] }];
    let e = await failure(c.call({ method: 'GET', path: '/x' }));
    expect({ code: e.code, status: e.status, detail: e.detail }).toEqual({ code: 'MANIFEST_UNKNOWN', status: 404, detail: { tag: 'v1' } });
    answer = [500, { errors: [{ code: 'INTERNAL', message: 'internal error' }] }];
    e = await failure(c.call({ method: 'GET', path: '/x' }));
    expect({ code: e.code, status: e.status }).toEqual({ code: 'INTERNAL', status: 500 });
    answer = [
      503,
      {
        errors: [
          { code: 'UNAVAILABLE', message: 'the index store (Redis) is unavailable; retry shortly', detail: { retryAfterSeconds: 1 } },
        ],
      },
    ];
    e = await failure(c.call({ method: 'GET', path: '/x' }));
    expect({ code: e.code, status: e.status, message: e.message }).toEqual({
      code: 'UNAVAILABLE',
      status: 503,
      message: 'the index store (Redis) is unavailable; retry shortly',
    });
  });
});
