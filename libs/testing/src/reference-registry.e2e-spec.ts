import { createHash } from 'node:crypto';
import { isAlive } from './net';
import { startReferenceRegistry } from './reference-registry';

jest.setTimeout(60_000);

describe('startReferenceRegistry', () => {
  it('serves /v2/ on loopback and stops leaving no process', async () => {
    const reg = await startReferenceRegistry();
    try {
      expect(reg.url).toBe(`http://127.0.0.1:${reg.port}`);
      const res = await fetch(`${reg.url}/v2/`);
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    } finally {
      await reg.stop();
    }
    expect(isAlive(reg.pid)).toBe(false);
    await expect(fetch(`${reg.url}/v2/`)).rejects.toThrow();
  });

  it('runs as a pull-through cache of another registry', async () => {
    const upstream = await startReferenceRegistry();
    const cache = await startReferenceRegistry({ proxyRemoteUrl: upstream.url });
    try {
      const blob = Buffer.from('a blob only the upstream has');
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const start = await fetch(`${upstream.url}/v2/library/demo/blobs/uploads/`, { method: 'POST' });
      expect(start.status).toBe(202);
      const location = new URL(start.headers.get('location')!, upstream.url);
      location.searchParams.set('digest', digest);
      const put = await fetch(location, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: blob });
      expect(put.status).toBe(201);
      const got = await fetch(`${cache.url}/v2/library/demo/blobs/${digest}`);
      expect(got.status).toBe(200);
      expect(Buffer.from(await got.arrayBuffer())).toEqual(blob);
    } finally {
      await cache.stop();
      await upstream.stop();
    }
    expect(isAlive(cache.pid) || isAlive(upstream.pid)).toBe(false);
  });

  it('names the Debian package when docker-registry is missing', async () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(startReferenceRegistry()).rejects.toThrow(/apt-get install -y --no-install-recommends docker-registry/);
    } finally {
      process.env.PATH = saved;
    }
  });
});
