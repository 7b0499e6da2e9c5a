// Accounts and `docker login` against a real Stevedore (all-in-one, real Redis): skopeo logs in and
// pushes into its own namespace; namespaces, public repositories, robots and scoped tokens decide
// who may pull and push; forged, expired and widened tokens are refused; failed logins are rate
// limited per user and per address and released; no password or token reaches the logs.
import { execFile } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SignJWT, decodeJwt } from 'jose';
import { Agent, request } from 'undici';
import { buildLayout, policyFile, startStevedore, type StevedoreUnderTest, type UncheckedJson } from '@stevedore/testing';

const run = promisify(execFile);
jest.setTimeout(180_000);

const MAX_FAILURES = 5;
const WINDOW_SECONDS = 3;

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
  json<T = UncheckedJson>(): T;
}

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const bearer = (token: string) => `Bearer ${token}`;
const code = (a: Answer): string | undefined => {
  try {
    return a.json().errors?.[0]?.code;
  } catch {
    return undefined;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('accounts and docker token auth', () => {
  let s: StevedoreUnderTest;
  let host: string;
  let dir: string;
  let policy: string;
  let signingKey: string;
  const agents = new Map<string, Agent>();
  /** Every secret that must never appear in a log line. */
  const secrets = new Set<string>();
  const alicePassword = `alice-${randomBytes(9).toString('base64url')}`;
  const bobPassword = `bob-${randomBytes(9).toString('base64url')}`;

  /** One HTTP call; `from` picks the client's loopback address (per-address rate limits). */
  async function call(
    method: string,
    p: string,
    opts: { auth?: string; body?: string | Buffer; headers?: Record<string, string>; from?: string } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.auth) headers.authorization = opts.auth;
    let dispatcher: Agent | undefined;
    if (opts.from) {
      dispatcher = agents.get(opts.from) ?? new Agent({ localAddress: opts.from });
      agents.set(opts.from, dispatcher);
    }
    const r = await request(s.url + p, { method: method as 'GET', headers, body: opts.body, dispatcher });
    const text = await r.body.text();
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers)) flat[k] = Array.isArray(v) ? v.join(', ') : String(v);
    return { status: r.statusCode, headers: flat, text, json: () => JSON.parse(text) };
  }

  async function token(
    auth: string | undefined,
    scopes: string[],
    extra = '',
  ): Promise<{ token: string; access: unknown; body: UncheckedJson }> {
    const q = scopes.map((sc) => `&scope=${encodeURIComponent(sc)}`).join('');
    const r = await call('GET', `/auth/token?service=stevedore${q}${extra}`, { auth });
    expect(r.status).toBe(200);
    const body = r.json();
    secrets.add(body.token);
    if (body.refresh_token) secrets.add(body.refresh_token);
    return { token: body.token, access: decodeJwt(body.token).access, body };
  }

  async function skopeo(...args: string[]): Promise<{ ok: boolean; out: string }> {
    try {
      const r = await run('skopeo', ['--policy', policy, ...args], { env: { ...process.env, TMPDIR: dir }, maxBuffer: 64 << 20 });
      return { ok: true, out: r.stdout + r.stderr };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
    }
  }

  beforeAll(async () => {
    signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    s = await startStevedore({
      extraEnv: {
        STEVEDORE_TOKEN_KEY: signingKey,
        STEVEDORE_LOGIN_MAX_FAILURES: String(MAX_FAILURES),
        STEVEDORE_LOGIN_WINDOW_SECONDS: String(WINDOW_SECONDS),
        // Request lines logged too, so the log check sees every login and token request.
        LOG_LEVEL: 'info',
      },
      // The Redis-loss test stops Redis and retries a token request until the new one answers: a
      // 503 with Retry-After in that window is the answer it asks for (under load the first retry
      // lands there).
      allow5xx: true,
    });
    host = s.url.replace('http://', '');
    dir = mkdtempSync(path.join(os.tmpdir(), 'auth-e2e-'));
    policy = policyFile(dir);
    for (const x of [s.admin.password, alicePassword, bobPassword]) secrets.add(x);
    const admin = basic(s.admin.user, s.admin.password);
    for (const [name, password] of [
      ['alice', alicePassword],
      ['bob', bobPassword],
    ]) {
      const r = await call('POST', '/api/v1/users', {
        auth: admin,
        body: JSON.stringify({ name, password }),
        headers: { 'content-type': 'application/json' },
      });
      expect(r.status).toBe(201);
      expect(r.json()).toMatchObject({ name, admin: false, disabled: false });
      expect(r.text).not.toContain(password);
      expect(r.text).not.toContain('$2');
    }
  });

  afterAll(async () => {
    for (const a of agents.values()) await a.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await s?.stop();
  });

  it('challenges anonymous callers with the token realm, service and scope, and never lets them push', async () => {
    const base = await call('GET', '/v2/');
    expect(base.status).toBe(401);
    expect(base.headers['www-authenticate']).toBe(`Bearer realm="${s.url}/auth/token",service="stevedore"`);
    const push = await call('POST', '/v2/alice/app/blobs/uploads/');
    expect(push.status).toBe(401);
    expect(code(push)).toBe('UNAUTHORIZED');
    expect(push.headers['www-authenticate']).toBe(
      `Bearer realm="${s.url}/auth/token",service="stevedore",scope="repository:alice/app:pull,push"`,
    );
    // An anonymous token grants no push, even when asked for.
    const anon = await token(undefined, ['repository:alice/app:pull,push']);
    expect(anon.access).toEqual([]);
    const withToken = await call('POST', '/v2/alice/app/blobs/uploads/', { auth: bearer(anon.token) });
    expect(withToken.status).toBe(401);
  });

  it('skopeo logs in and pushes into its own namespace, and pulls it back', async () => {
    const authfile = path.join(dir, 'alice-auth.json');
    const login = await skopeo('login', '--tls-verify=false', '--authfile', authfile, '-u', 'alice', '-p', alicePassword, host);
    expect(login).toMatchObject({ ok: true });
    const src = buildLayout(path.join(dir, 'src'), 'v1', [{ 'etc/hello': 'from alice' }]);
    const push = await skopeo(
      'copy',
      '--authfile',
      authfile,
      '--dest-tls-verify=false',
      `oci:${src.dir}:v1`,
      `docker://${host}/alice/app:1`,
    );
    expect(push).toMatchObject({ ok: true });
    const out = path.join(dir, 'out');
    const pull = await skopeo('copy', '--authfile', authfile, '--src-tls-verify=false', `docker://${host}/alice/app:1`, `oci:${out}:1`);
    expect(pull).toMatchObject({ ok: true });
    expect(JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')).manifests[0].digest).toBe(src.manifestDigest);
    // Into someone else's namespace: denied, by skopeo and on the wire.
    const other = await skopeo(
      'copy',
      '--authfile',
      authfile,
      '--dest-tls-verify=false',
      `oci:${src.dir}:v1`,
      `docker://${host}/bob/app:1`,
    );
    expect(other.ok).toBe(false);
    expect(other.out).toMatch(/denied|forbidden/i);
    const direct = await call('POST', '/v2/bob/app/blobs/uploads/', { auth: basic('alice', alicePassword) });
    expect(direct.status).toBe(403);
    expect(code(direct)).toBe('DENIED');
    const t = await token(basic('alice', alicePassword), ['repository:bob/app:pull,push']);
    expect(t.access).toEqual([]);
    const viaToken = await call('POST', '/v2/bob/app/blobs/uploads/', { auth: bearer(t.token) });
    expect(viaToken.status).toBe(403);
    expect(code(viaToken)).toBe('DENIED');
    // bob pushes his own private repository for the next tests.
    const bobAuth = path.join(dir, 'bob-auth.json');
    expect(await skopeo('login', '--tls-verify=false', '--authfile', bobAuth, '-u', 'bob', '-p', bobPassword, host)).toMatchObject({
      ok: true,
    });
    expect(
      await skopeo('copy', '--authfile', bobAuth, '--dest-tls-verify=false', `oci:${src.dir}:v1`, `docker://${host}/bob/private:1`),
    ).toMatchObject({ ok: true });
    // The logins and pushes just logged: none of the passwords or the stored credentials appear.
    const logs = s.logs();
    expect(logs).toContain('/auth/token');
    for (const secret of [s.admin.password, alicePassword, bobPassword]) expect(logs.includes(secret)).toBe(false);
    for (const f of [authfile, bobAuth]) {
      const stored = JSON.parse(readFileSync(f, 'utf8')).auths[host].auth as string;
      expect(logs.includes(stored)).toBe(false);
    }
  });

  it('answers tokens with exactly the granted actions, several scopes, refresh tokens and the POST form', async () => {
    const alice = basic('alice', alicePassword);
    const t = await token(
      alice,
      ['repository:alice/app:pull,push,delete', 'repository:bob/private:pull', 'registry:catalog:*'],
      '&offline_token=true',
    );
    expect(t.access).toEqual([{ type: 'repository', name: 'alice/app', actions: ['pull', 'push', 'delete'] }]);
    expect(t.body).toMatchObject({
      access_token: t.token,
      expires_in: expect.any(Number),
      issued_at: expect.any(String),
      refresh_token: expect.any(String),
    });
    const claims = decodeJwt(t.token);
    expect(claims).toMatchObject({ iss: 'stevedore', sub: 'alice', aud: 'stevedore' });
    expect(claims.exp! > claims.iat!).toBe(true);

    const form = (fields: Record<string, string>) => ({
      body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const refreshed = await call(
      'POST',
      '/auth/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: t.body.refresh_token,
        service: 'stevedore',
        scope: 'repository:alice/app:pull',
        client_id: 'docker',
      }),
    );
    expect(refreshed.status).toBe(200);
    secrets.add(refreshed.json().token);
    expect(decodeJwt(refreshed.json().access_token).access).toEqual([{ type: 'repository', name: 'alice/app', actions: ['pull'] }]);
    expect(refreshed.json().refresh_token).toBeUndefined();

    const password = await call(
      'POST',
      '/auth/token',
      form({
        grant_type: 'password',
        username: 'alice',
        password: alicePassword,
        service: 'stevedore',
        access_type: 'offline',
        client_id: 'docker',
        scope: 'repository:alice/app:push',
      }),
    );
    expect(password.status).toBe(200);
    secrets.add(password.json().token).add(password.json().refresh_token);
    expect(decodeJwt(password.json().token).access).toEqual([{ type: 'repository', name: 'alice/app', actions: ['push'] }]);
    expect(password.json().refresh_token).toEqual(expect.any(String));

    // A registry token does not buy another token, nor does a refresh token work on /v2.
    expect((await call('GET', '/auth/token?service=stevedore&scope=repository:alice/app:push', { auth: bearer(t.token) })).status).toBe(
      401,
    );
    expect((await call('GET', '/v2/alice/app/manifests/1', { auth: bearer(t.body.refresh_token) })).status).toBe(401);
    expect((await call('GET', '/auth/token?service=elsewhere', { auth: alice })).status).toBe(400);
    expect((await call('POST', '/auth/token', form({ grant_type: 'client_credentials' }))).status).toBe(400);
  });

  it('a token for a/b:pull can pull a/b but not push it, nor pull a/c', async () => {
    const alice = basic('alice', alicePassword);
    const src = buildLayout(path.join(dir, 'ab'), 'v1', [{ 'etc/c': 'c' }]);
    expect(
      await skopeo(
        'copy',
        '--dest-creds',
        `alice:${alicePassword}`,
        '--dest-tls-verify=false',
        `oci:${src.dir}:v1`,
        `docker://${host}/alice/c:1`,
      ),
    ).toMatchObject({ ok: true });
    const t = await token(alice, ['repository:alice/app:pull']);
    const accept = 'application/vnd.oci.image.manifest.v1+json';
    expect((await call('GET', '/v2/alice/app/manifests/1', { auth: bearer(t.token), headers: { accept } })).status).toBe(200);
    const push = await call('POST', '/v2/alice/app/blobs/uploads/', { auth: bearer(t.token) });
    expect(push.status).toBe(401);
    expect(push.headers['www-authenticate']).toContain('scope="repository:alice/app:pull,push"');
    expect((await call('DELETE', '/v2/alice/app/manifests/1', { auth: bearer(t.token) })).status).toBe(401);
    const other = await call('GET', '/v2/alice/c/manifests/1', { auth: bearer(t.token), headers: { accept } });
    expect(other.status).toBe(401);
    expect(other.headers['www-authenticate']).toContain('scope="repository:alice/c:pull"');
  });

  it('refuses expired, tampered, foreign and unsigned tokens', async () => {
    const t = await token(basic('alice', alicePassword), ['repository:alice/app:pull']);
    const get = (tok: string) =>
      call('GET', '/v2/alice/app/manifests/1', { auth: bearer(tok), headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect((await get(t.token)).status).toBe(200);

    const now = Math.floor(Date.now() / 1000);
    const access = [{ type: 'repository', name: 'alice/app', actions: ['pull'] }];
    const sign = (key: string, claims: { iat: number; exp: number; aud?: string }) =>
      new SignJWT({ access })
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer('stevedore')
        .setSubject('alice')
        .setAudience(claims.aud ?? 'stevedore')
        .setIssuedAt(claims.iat)
        .setNotBefore(claims.iat)
        .setExpirationTime(claims.exp)
        .setJti(randomBytes(8).toString('hex'))
        .sign(createPrivateKey(key));
    // The right key, the right claims, but past its expiry.
    const expired = await sign(signingKey, { iat: now - 600, exp: now - 60 });
    const r = await get(expired);
    expect(r.status).toBe(401);
    expect(r.text).not.toContain(expired);
    // Same key, another audience.
    expect((await get(await sign(signingKey, { iat: now, exp: now + 60, aud: 'other' }))).status).toBe(401);
    // Another key.
    const foreign = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect((await get(await sign(foreign, { iat: now, exp: now + 60 }))).status).toBe(401);
    // A genuine token with its access widened to push, signature kept.
    const [h, , sig] = t.token.split('.');
    const widened = Buffer.from(
      JSON.stringify({ ...decodeJwt(t.token), access: [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }] }),
    ).toString('base64url');
    expect((await call('POST', '/v2/alice/app/blobs/uploads/', { auth: bearer(`${h}.${widened}.${sig}`) })).status).toBe(401);
    // alg=none.
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    expect((await get(`${none}.${widened}.`)).status).toBe(401);
  });

  it('lets anyone pull a public repository and nobody anonymous pull a private one', async () => {
    const anonInspect = (repo: string) => skopeo('inspect', '--no-creds', '--tls-verify=false', `docker://${host}/${repo}:1`);
    expect((await anonInspect('alice/app')).ok).toBe(false);
    // alice may not publish bob's repository; she may publish her own.
    const alice = basic('alice', alicePassword);
    const json = { 'content-type': 'application/json' };
    const notHers = await call('PUT', '/api/v1/repositories/visibility', {
      auth: alice,
      headers: json,
      body: JSON.stringify({ repository: 'bob/private', public: true }),
    });
    expect(notHers.status).toBe(403);
    const publish = await call('PUT', '/api/v1/repositories/visibility', {
      auth: alice,
      headers: json,
      body: JSON.stringify({ repository: 'alice/app', public: true }),
    });
    expect(publish.status).toBe(200);
    expect(await anonInspect('alice/app')).toMatchObject({ ok: true });
    expect(
      (await call('GET', '/v2/alice/app/manifests/1', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).status,
    ).toBe(200);
    expect((await call('POST', '/v2/alice/app/blobs/uploads/')).status).toBe(401);
    expect((await anonInspect('bob/private')).ok).toBe(false);
    expect((await call('GET', '/v2/bob/private/manifests/1')).status).toBe(401);
    // Another user may pull the public one, not push to it.
    const bob = basic('bob', bobPassword);
    expect(await token(bob, ['repository:alice/app:pull,push'])).toMatchObject({
      access: [{ type: 'repository', name: 'alice/app', actions: ['pull'] }],
    });
    expect(code(await call('POST', '/v2/alice/app/blobs/uploads/', { auth: bob }))).toBe('DENIED');
    const hide = await call('PUT', '/api/v1/repositories/visibility', {
      auth: alice,
      headers: json,
      body: JSON.stringify({ repository: 'alice/app', public: false }),
    });
    expect(hide.status).toBe(200);
    expect((await call('GET', '/v2/alice/app/manifests/1')).status).toBe(401);
  });

  it('keeps the catalog and the users API for admins; users change only their own password, with the password', async () => {
    const admin = basic(s.admin.user, s.admin.password);
    const alice = basic('alice', alicePassword);
    expect((await call('GET', '/v2/_catalog', { auth: admin })).status).toBe(200);
    expect(code(await call('GET', '/v2/_catalog', { auth: alice }))).toBe('DENIED');
    const adminToken = await token(admin, ['registry:catalog:*']);
    expect(adminToken.access).toEqual([{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    expect((await call('GET', '/v2/_catalog', { auth: bearer(adminToken.token) })).status).toBe(200);

    const list = await call('GET', '/api/v1/users', { auth: admin });
    expect(list.status).toBe(200);
    expect(list.json().map((u: { name: string }) => u.name)).toEqual(expect.arrayContaining(['admin', 'alice', 'bob']));
    expect(list.text).not.toMatch(/passwordHash|\$2[aby]\$/);
    expect((await call('GET', '/api/v1/users', { auth: alice })).status).toBe(403);

    const json = { 'content-type': 'application/json' };
    // A token, even the admin's, does not manage accounts.
    expect((await call('GET', '/api/v1/users', { auth: bearer(adminToken.token) })).status).toBe(401);
    const aliceToken = await token(alice, ['repository:alice/app:pull']);
    expect(
      (
        await call('PATCH', '/api/v1/users/alice', {
          auth: bearer(aliceToken.token),
          headers: json,
          body: JSON.stringify({ password: 'stolen-by-token' }),
        })
      ).status,
    ).toBe(401);
    // Another user's account answers as a missing one.
    expect(
      (await call('PATCH', '/api/v1/users/bob', { auth: alice, headers: json, body: JSON.stringify({ password: 'not-hers-to-set' }) }))
        .status,
    ).toBe(404);
    expect(
      (await call('PATCH', '/api/v1/users/alice', { auth: alice, headers: json, body: JSON.stringify({ disabled: true }) })).status,
    ).toBe(403);

    // bob changes his password: the old one and his refresh tokens stop working.
    const bobOld = basic('bob', bobPassword);
    const withRefresh = await token(bobOld, [], '&offline_token=true');
    const newPassword = `bob-new-${randomBytes(6).toString('hex')}`;
    secrets.add(newPassword);
    const changed = await call('PATCH', '/api/v1/users/bob', {
      auth: bobOld,
      headers: json,
      body: JSON.stringify({ password: newPassword }),
    });
    expect(changed.status).toBe(200);
    expect(changed.text).not.toContain(newPassword);
    expect((await call('GET', '/v2/', { auth: bobOld })).status).toBe(401);
    expect((await call('GET', '/v2/', { auth: basic('bob', newPassword) })).status).toBe(200);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const stale = await call('POST', '/auth/token', {
      headers: form,
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: withRefresh.body.refresh_token,
        service: 'stevedore',
      }).toString(),
    });
    expect(stale.status).toBe(401);

    // The admin disables bob: his Basic credentials stop working at once.
    expect(
      (await call('PATCH', '/api/v1/users/bob', { auth: admin, headers: json, body: JSON.stringify({ disabled: true }) })).status,
    ).toBe(200);
    expect((await call('GET', '/v2/', { auth: basic('bob', newPassword) })).status).toBe(401);
    expect(
      (await call('PATCH', '/api/v1/users/bob', { auth: admin, headers: json, body: JSON.stringify({ disabled: false }) })).status,
    ).toBe(200);
  });

  it('gives robot accounts exactly their listed repositories and actions', async () => {
    const admin = basic(s.admin.user, s.admin.password);
    const json = { 'content-type': 'application/json' };
    const created = await call('POST', '/api/v1/robots', {
      auth: admin,
      headers: json,
      body: JSON.stringify({
        name: 'ci-bot',
        scopes: [
          { repository: 'alice/app', actions: ['pull'] },
          { repository: 'bob/*', actions: ['pull', 'push'] },
        ],
      }),
    });
    expect(created.status).toBe(201);
    const secret = created.json().secret as string;
    secrets.add(secret);
    expect(created.json()).toMatchObject({ name: 'ci-bot', robot: true });
    const robot = basic('ci-bot', secret);
    const t = await token(robot, [
      'repository:alice/app:pull,push',
      'repository:bob/private:pull,push,delete',
      'repository:ci-bot/own:push',
      'repository:alice/c:pull',
    ]);
    expect(t.access).toEqual([
      { type: 'repository', name: 'alice/app', actions: ['pull'] },
      { type: 'repository', name: 'bob/private', actions: ['pull', 'push'] },
    ]);
    expect(
      (await call('GET', '/v2/alice/app/manifests/1', { auth: robot, headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } }))
        .status,
    ).toBe(200);
    expect(code(await call('POST', '/v2/alice/app/blobs/uploads/', { auth: robot }))).toBe('DENIED');
    expect((await call('POST', '/v2/bob/next/blobs/uploads/', { auth: robot })).status).toBe(202);
    expect(code(await call('POST', '/v2/ci-bot/own/blobs/uploads/', { auth: robot }))).toBe('DENIED');
    // Robots manage nothing, not even their own secret.
    expect(
      (await call('PATCH', '/api/v1/users/ci-bot', { auth: robot, headers: json, body: JSON.stringify({ password: 'new-robot-secret' }) }))
        .status,
    ).toBe(403);
  });

  it('rate limits failed logins per user and per address, answering TOOMANYREQUESTS with Retry-After, and releases', async () => {
    const admin = basic(s.admin.user, s.admin.password);
    const json = { 'content-type': 'application/json' };
    const carolPassword = `carol-${randomBytes(6).toString('hex')}`;
    const davePassword = `dave-${randomBytes(6).toString('hex')}`;
    secrets.add(carolPassword).add(davePassword);
    for (const [name, password] of [
      ['carol', carolPassword],
      ['dave', davePassword],
    ]) {
      expect((await call('POST', '/api/v1/users', { auth: admin, headers: json, body: JSON.stringify({ name, password }) })).status).toBe(
        201,
      );
    }
    const login = (user: string, password: string, from: string) =>
      call('GET', '/auth/token?service=stevedore', { auth: basic(user, password), from });

    // Per user: carol's wrong passwords from one address lock carol from every address.
    await sleep(WINDOW_SECONDS * 1000 + 200);
    for (let i = 0; i < MAX_FAILURES; i++) expect((await login('carol', `wrong-${i}-password`, '127.0.0.2')).status).toBe(401);
    const locked = await login('carol', carolPassword, '127.0.0.3');
    expect(locked.status).toBe(429);
    expect(code(locked)).toBe('TOOMANYREQUESTS');
    const retry = Number(locked.headers['retry-after']);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(WINDOW_SECONDS);
    expect((await login('dave', davePassword, '127.0.0.3')).status).toBe(200);

    // Per address: failures for many names from one address lock that address for everyone.
    for (let i = 0; i < MAX_FAILURES; i++) expect((await login(`nobody${i}`, 'wrong-password', '127.0.0.4')).status).toBe(401);
    const byAddress = await login('dave', davePassword, '127.0.0.4');
    expect(byAddress.status).toBe(429);
    expect(Number(byAddress.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await login('dave', davePassword, '127.0.0.5')).status).toBe(200);

    // And both release after the window.
    await sleep(WINDOW_SECONDS * 1000 + 500);
    expect((await login('carol', carolPassword, '127.0.0.3')).status).toBe(200);
    expect((await login('dave', davePassword, '127.0.0.4')).status).toBe(200);
  });

  it('keeps users and public repositories through a Redis loss (storage holds them; Redis is an index)', async () => {
    const alice = basic('alice', alicePassword);
    const json = { 'content-type': 'application/json' };
    expect(
      (
        await call('PUT', '/api/v1/repositories/visibility', {
          auth: alice,
          headers: json,
          body: JSON.stringify({ repository: 'alice/app', public: true }),
        })
      ).status,
    ).toBe(200);
    await s.stopRedis();
    await s.startRedis();
    let anon: Answer | undefined;
    for (let i = 0; i < 50 && anon?.status !== 200; i++) {
      if (i) await sleep(200);
      anon = await call('GET', '/auth/token?service=stevedore&scope=repository:alice/app:pull,push&scope=repository:bob/private:pull');
    }
    expect(anon!.status).toBe(200);
    secrets.add(anon!.json().token);
    expect(decodeJwt(anon!.json().token).access).toEqual([{ type: 'repository', name: 'alice/app', actions: ['pull'] }]);
    expect((await token(alice, ['repository:alice/app:push'])).access).toEqual([
      { type: 'repository', name: 'alice/app', actions: ['push'] },
    ]);
  });

  it('keeps passwords, tokens and keys out of the logs', async () => {
    const logs = s.logs();
    // The check means something only if the requests were logged at all.
    expect(logs).toContain('/auth/token');
    for (const secret of secrets) expect(logs.includes(secret)).toBe(false);
    const keyBody = signingKey.split('\n')[1];
    expect(logs.includes(keyBody)).toBe(false);
    expect(logs).not.toMatch(/\$2[aby]\$\d\d\$/);
  });
});
