// docker login and token auth against a real Stevedore: skopeo as a user in their namespace,
// refusals (someone else's namespace, anonymous push), public vs private pulls, expired and
// tampered tokens, scope limits, login rate limits, and no secret in any log line.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildLayout, http, policyFile, pushImage, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';

const run = promisify(execFile);
jest.setTimeout(180_000);

const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

async function raw(base: string, method: string, p: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Response> {
  return fetch(base + p, { method, headers, body, redirect: 'manual' });
}

async function token(base: string, scopes: string[], auth?: string): Promise<string> {
  const q = scopes.map((s) => `scope=${encodeURIComponent(s)}`).join('&');
  const r = await raw(base, 'GET', `/auth/token?service=stevedore&${q}`, auth ? { authorization: auth } : {});
  expect(r.status).toBe(200);
  return ((await r.json()) as { token: string }).token;
}

function claims(t: string): { access: Array<{ type: string; name: string; actions: string[] }>; sub: string; aud: string; exp: number } {
  return JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());
}

describe('docker login and token auth', () => {
  let s: StevedoreUnderTest;
  let dir: string;
  const alicePass = 'alice-secret-pass-1';
  const bobPass = 'bob-secret-pass-22';

  beforeAll(async () => {
    s = await startStevedore({ extraEnv: { LOG_LEVEL: 'debug', STEVEDORE_TOKEN_TTL_SECONDS: '3', STEVEDORE_LOGIN_MAX_FAILURES: '3', STEVEDORE_LOGIN_WINDOW_SECONDS: '3' } });
    dir = mkdtempSync(path.join(os.tmpdir(), 'auth-e2e-'));
    for (const [name, password] of [
      ['alice', alicePass],
      ['bob', bobPass],
    ]) {
      const r = await http(s.url, 'POST', '/api/v1/users', JSON.stringify({ name, password }), { 'content-type': 'application/json' });
      expect(r.status).toBe(201);
    }
  });
  afterAll(async () => {
    await s?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('challenges an anonymous /v2/ with the token realm and service', async () => {
    const r = await raw(s.url, 'GET', '/v2/');
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe(`Bearer realm="${s.url}/auth/token",service="stevedore"`);
  });

  it('lets a user log in with skopeo and push and pull in their namespace', async () => {
    const policy = policyFile(dir);
    const authfile = path.join(dir, 'auth.json');
    const host = s.url.replace('http://', '');
    await run('skopeo', ['login', '--tls-verify=false', '--authfile', authfile, '-u', 'alice', '--password-stdin', host], { env: { ...process.env } }).catch(async () => {
      // execFile cannot feed stdin: use the password flag variant through a shell pipe instead.
      await run('sh', ['-c', `printf '%s' "$P" | skopeo login --tls-verify=false --authfile '${authfile}' -u alice --password-stdin ${host}`], { env: { ...process.env, P: alicePass } });
    });
    const src = buildLayout(path.join(dir, 'src'), 'v1');
    await run('skopeo', ['--policy', policy, 'copy', '--dest-tls-verify=false', '--authfile', authfile, `oci:${src.dir}:v1`, `docker://${host}/alice/app:1`]);
    const out = path.join(dir, 'out');
    await run('skopeo', ['--policy', policy, 'copy', '--src-tls-verify=false', '--authfile', authfile, `docker://${host}/alice/app:1`, `oci:${out}:1`]);
    const inspect = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', '--authfile', authfile, `docker://${host}/alice/app:1`])).stdout);
    expect(inspect.Digest).toBe(src.manifestDigest);
    // And into bob's namespace: refused.
    await expect(run('skopeo', ['--policy', policy, 'copy', '--dest-tls-verify=false', '--authfile', authfile, `oci:${src.dir}:v1`, `docker://${host}/bob/app:1`])).rejects.toThrow(
      /denied|unauthorized|authentication required/i,
    );
  });

  it('answers DENIED for a push into someone else namespace, and UNAUTHORIZED with the scope for anonymous', async () => {
    const asAlice = await raw(s.url, 'POST', '/v2/bob/app/blobs/uploads/', { authorization: basic('alice', alicePass) });
    expect(asAlice.status).toBe(403);
    expect(((await asAlice.json()) as any).errors[0].code).toBe('DENIED');
    const anon = await raw(s.url, 'POST', '/v2/bob/app/blobs/uploads/');
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as any).errors[0].code).toBe('UNAUTHORIZED');
    expect(anon.headers.get('www-authenticate')).toBe(`Bearer realm="${s.url}/auth/token",service="stevedore",scope="repository:bob/app:pull,push"`);
    // A token asked for bob/app push on alice's behalf grants nothing there.
    const t = await token(s.url, ['repository:bob/app:pull,push'], basic('alice', alicePass));
    expect(claims(t).access).toEqual([]);
    const withToken = await raw(s.url, 'POST', '/v2/bob/app/blobs/uploads/', { authorization: `Bearer ${t}` });
    expect(withToken.status).toBe(403);
  });

  it('lets anyone pull a public repository and nobody pull a private one anonymously', async () => {
    await pushImage(s.url, 'bob/public', 'v1');
    await pushImage(s.url, 'bob/private', 'v1');
    const pub = await raw(s.url, 'PUT', '/api/v1/repositories/visibility', { authorization: basic('bob', bobPass), 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ repository: 'bob/public', public: true })));
    expect(pub.status).toBe(200);
    const anonToken = await token(s.url, ['repository:bob/public:pull', 'repository:bob/private:pull']);
    expect(claims(anonToken).access).toEqual([{ type: 'repository', name: 'bob/public', actions: ['pull'] }]);
    expect((await raw(s.url, 'GET', '/v2/bob/public/manifests/v1', { authorization: `Bearer ${anonToken}` })).status).toBe(200);
    expect((await raw(s.url, 'GET', '/v2/bob/public/manifests/v1')).status).toBe(200);
    expect((await raw(s.url, 'GET', '/v2/bob/private/manifests/v1')).status).toBe(401);
    expect((await raw(s.url, 'GET', '/v2/bob/private/manifests/v1', { authorization: `Bearer ${anonToken}` })).status).toBe(403);
    // Alice may not publish bob's repository.
    const steal = await raw(s.url, 'PUT', '/api/v1/repositories/visibility', { authorization: basic('alice', alicePass), 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ repository: 'bob/private', public: true })));
    expect(steal.status).toBe(403);
  });

  it('scopes tokens exactly: pull on a/b neither pushes a/b nor pulls a/c', async () => {
    await pushImage(s.url, 'alice/b', 'v1');
    await pushImage(s.url, 'alice/c', 'v1');
    const t = await token(s.url, ['repository:alice/b:pull'], basic('alice', alicePass));
    expect(claims(t).access).toEqual([{ type: 'repository', name: 'alice/b', actions: ['pull'] }]);
    expect(claims(t).aud).toBe('stevedore');
    expect((await raw(s.url, 'GET', '/v2/alice/b/manifests/v1', { authorization: `Bearer ${t}` })).status).toBe(200);
    const push = await raw(s.url, 'POST', '/v2/alice/b/blobs/uploads/', { authorization: `Bearer ${t}` });
    expect(push.status).toBe(401);
    expect(push.headers.get('www-authenticate')).toContain('scope="repository:alice/b:pull,push"');
    expect((await raw(s.url, 'GET', '/v2/alice/c/manifests/v1', { authorization: `Bearer ${t}` })).status).toBe(401);
  });

  it('refuses tampered and expired tokens', async () => {
    const t = await token(s.url, ['repository:alice/b:pull'], basic('alice', alicePass));
    const [h, p, sig] = t.split('.');
    const forged = JSON.parse(Buffer.from(p, 'base64url').toString());
    forged.access = [{ type: 'repository', name: 'bob/private', actions: ['pull', 'push'] }];
    const tampered = `${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${sig}`;
    expect((await raw(s.url, 'GET', '/v2/bob/private/manifests/v1', { authorization: `Bearer ${tampered}` })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 4500));
    const expired = await raw(s.url, 'GET', '/v2/alice/b/manifests/v1', { authorization: `Bearer ${t}` });
    expect(expired.status).toBe(401);
  });

  it('issues a refresh token with offline_token and trades it for a new access token', async () => {
    const r = await raw(s.url, 'GET', '/auth/token?service=stevedore&offline_token=true&scope=repository:alice/b:pull', { authorization: basic('alice', alicePass) });
    const body = (await r.json()) as { refresh_token: string };
    expect(body.refresh_token).toBeTruthy();
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: body.refresh_token, service: 'stevedore', scope: 'repository:alice/b:pull' });
    const r2 = await raw(s.url, 'POST', '/auth/token', { 'content-type': 'application/x-www-form-urlencoded' }, Buffer.from(form.toString()));
    expect(r2.status).toBe(200);
    const t = ((await r2.json()) as { access_token: string }).access_token;
    expect(claims(t).sub).toBe('alice');
  });

  it('rate limits failed logins per user and releases after the window', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await raw(s.url, 'GET', '/auth/token?service=stevedore', { authorization: basic('bob', 'wrong-password') })).status).toBe(401);
    }
    const limited = await raw(s.url, 'GET', '/auth/token?service=stevedore', { authorization: basic('bob', bobPass) });
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as any).errors[0].code).toBe('TOOMANYREQUESTS');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 4000));
    expect((await raw(s.url, 'GET', '/auth/token?service=stevedore', { authorization: basic('bob', bobPass) })).status).toBe(200);
  });

  it('never writes a password or a token into the logs', async () => {
    const t = await token(s.url, ['repository:alice/b:pull'], basic('alice', alicePass));
    await raw(s.url, 'GET', '/v2/alice/b/manifests/v1', { authorization: `Bearer ${t}` });
    await new Promise((r) => setTimeout(r, 300));
    const logs = s.logs();
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [alicePass, bobPass, s.admin.password, t, t.split('.')[2], Buffer.from(`alice:${alicePass}`).toString('base64')]) {
      expect(logs.includes(secret)).toBe(false);
    }
  });
});
