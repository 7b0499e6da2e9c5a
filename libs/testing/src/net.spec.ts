import { createServer } from 'node:http';
import { freePort, requireBinary, waitFor } from './net';

describe('net utils', () => {
  it('freePort gives a loopback port nothing listens on', async () => {
    const port = await freePort();
    const server = createServer((_q, r) => r.end('ok'));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      await waitFor(`http://127.0.0.1:${port}/`, 2000);
    } finally {
      server.close();
    }
  });

  it('waitFor polls a predicate and fails after the timeout', async () => {
    let calls = 0;
    await waitFor(() => ++calls >= 3, 2000, 10);
    expect(calls).toBe(3);
    await expect(waitFor(() => false, 100, 10)).rejects.toThrow(/not ready after 100 ms/);
    await expect(waitFor(`http://127.0.0.1:${await freePort()}/`, 200, 20)).rejects.toThrow(/not ready/);
  });

  it('requireBinary finds a binary or names the package', () => {
    expect(requireBinary('sh', 'dash')).toMatch(/\/sh$/);
    expect(() => requireBinary('no-such-binary-here', 'some-package')).toThrow(/apt-get install -y --no-install-recommends some-package/);
  });
});
