// First start without STEVEDORE_ADMIN_PASSWORD: the admin's password is generated once into
// <data dir>/admin-password (0600), the log says where and never what, and a restart keeps it.
// With STEVEDORE_AUTH=false there is no guard at all: anonymous pushes work and no token endpoint.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pushImage, startStevedore, useCredentials, type StevedoreUnderTest } from '@stevedore/testing';

jest.setTimeout(120_000);

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

describe('bootstrap admin', () => {
  let s: StevedoreUnderTest;
  afterAll(async () => {
    await s?.stop();
  });

  it('generates the password once into the data dir with mode 0600, says so, and keeps it across restarts', async () => {
    s = await startStevedore({ extraEnv: { STEVEDORE_ADMIN_PASSWORD: '', LOG_LEVEL: 'info' } });
    const file = path.join(s.env.STEVEDORE_DATA_DIR, 'admin-password');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const password = readFileSync(file, 'utf8').trim();
    expect(password.length).toBeGreaterThanOrEqual(20);
    const logs = s.logs();
    expect(logs).toContain('bootstrap admin');
    expect(logs).toContain(file);
    expect(logs.includes(password)).toBe(false);

    const get = (auth: string) => fetch(`${s.url}/v2/_catalog`, { headers: { authorization: auth } }).then((r) => r.status);
    expect(await get(basic('admin', password))).toBe(200);
    expect(await get(basic('admin', 'not-the-password'))).toBe(401);
    await s.restart();
    expect(readFileSync(file, 'utf8').trim()).toBe(password);
    expect(await get(basic('admin', password))).toBe(200);
  });
});

describe('STEVEDORE_AUTH=false', () => {
  let s: StevedoreUnderTest;
  afterAll(async () => {
    await s?.stop();
  });

  it('has no guard: anonymous pushes and pulls work and there is no token endpoint', async () => {
    s = await startStevedore({ extraEnv: { STEVEDORE_AUTH: 'false' } });
    useCredentials(s.url, null);
    const pushed = await pushImage(s.url, 'anyone/app', '1');
    const r = await fetch(`${s.url}/v2/anyone/app/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-content-digest')).toBe(pushed.digest);
    expect((await fetch(`${s.url}/v2/`)).status).toBe(200);
    expect((await fetch(`${s.url}/auth/token?service=stevedore`)).status).toBe(404);
    expect((await fetch(`${s.url}/api/v1/users`)).status).toBe(404);
  });
});
