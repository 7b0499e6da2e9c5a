// The client refuses an answer the API contract does not accept, whatever the server sends: here a
// small real HTTP server plays a server of another version.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StevedoreApi } from './api-client';
import { HttpClient } from './http-client';

describe('StevedoreApi', () => {
  let server: HttpServer;
  let answer: unknown;
  let api: StevedoreApi;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    api = new StevedoreApi(new HttpClient({ url: `http://127.0.0.1:${port}`, key: `127.0.0.1:${port}` }));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const row = {
    repository: 'a/b',
    tag: 'v1',
    digest: `sha256:${'a'.repeat(64)}`,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    id: `sha256:${'b'.repeat(64)}`,
    created: null,
    compressedSize: 10,
    uncompressedSize: null,
  };

  it('returns an answer the contract accepts', async () => {
    answer = { items: [row] };
    await expect(api.listImages()).resolves.toEqual({ items: [row] });
  });

  it('refuses an answer of another shape, naming the route and the field', async () => {
    answer = { images: [row] };
    await expect(api.listImages()).rejects.toMatchObject({
      code: 'UNEXPECTED_ANSWER',
      message: expect.stringContaining('GET /api/v1/images'),
    });
    answer = { items: [{ ...row, compressedSize: '10' }] };
    await expect(api.listImages()).rejects.toMatchObject({ code: 'UNEXPECTED_ANSWER', message: expect.stringContaining('compressedSize') });
  });

  it('refuses a path that is not the route it names', async () => {
    await expect(api.call('job', '/api/v1/jobs')).rejects.toThrow('/api/v1/jobs is not the path of GET /api/v1/jobs/{id}');
  });
});
