// The browser's session against a real Stevedore (all-in-one, real Redis): signing in sets an
// HttpOnly, SameSite=Strict cookie (Secure over https, or a trusted proxy's X-Forwarded-Proto) and
// answers an anti-CSRF token; every /api/v1 route takes the cookie, unsafe ones only with the token;
// /v2 never takes it; signing out, a password change and a disabled account end sessions; sessions
// expire; Redis holds neither a password nor a usable cookie id.
import { parseSetCookie } from 'cookie';
import { Agent, request } from 'undici';
import { keysEverywhere, makeLayer, openTestRedis, startStevedore, type StevedoreUnderTest, type UncheckedJson } from '@stevedore/testing';

jest.setTimeout(180_000);

const TTL_SECONDS = 8;
const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = UncheckedJson>(): T;
}

interface Signed {
  cookie: string;
  csrf: string;
  setCookie: string;
  body: UncheckedJson;
}

describe('browser sessions', () => {
  let s: StevedoreUnderTest;
  const password = { alice: 'alice-password-1', bob: 'bob-password-1' };
  // A second loopback address: a client that is not the trusted proxy.
  const untrusted = new Agent({ localAddress: '127.0.0.2' });

  async function call(
    method: string,
    p: string,
    opts: {
      cookie?: string;
      csrf?: string;
      auth?: string;
      json?: unknown;
      body?: Buffer;
      headers?: Record<string, string>;
      from?: Agent;
    } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.cookie) headers.cookie = opts.cookie;
    if (opts.csrf) headers['x-csrf-token'] = opts.csrf;
    if (opts.auth) headers.authorization = opts.auth;
    let body: string | Buffer | undefined = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] = 'application/json';
    } else if (body) headers['content-type'] ??= 'application/octet-stream';
    const r = await request(s.url + p, { method: method as 'GET', headers, body, dispatcher: opts.from });
    const text = await r.body.text();
    return { status: r.statusCode, headers: r.headers, text, json: () => JSON.parse(text) };
  }

  const admin = () => basic(s.admin.user, s.admin.password);
  const errorOf = (a: Answer) => a.json().errors?.[0];

  async function signIn(username: string, pass: string, headers: Record<string, string> = {}, from?: Agent): Promise<Signed> {
    const r = await call('POST', '/api/v1/session', { json: { username, password: pass }, headers, from });
    expect({ status: r.status, text: r.status === 201 ? '' : r.text }).toEqual({ status: 201, text: '' });
    const setCookie = String(r.headers['set-cookie']);
    const c = parseSetCookie(setCookie);
    return { cookie: `${c.name}=${c.value}`, csrf: r.json().csrfToken, setCookie, body: r.json() };
  }

  beforeAll(async () => {
    s = await startStevedore({ extraEnv: { STEVEDORE_SESSION_TTL_SECONDS: String(TTL_SECONDS), STEVEDORE_TRUSTED_PROXIES: '127.0.0.1' } });
    for (const name of ['alice', 'bob'] as const) {
      const r = await call('POST', '/api/v1/users', { auth: admin(), json: { name, password: password[name] } });
      expect(r.status).toBe(201);
    }
    const layer = makeLayer({ 'etc/motd': 'alice\n' }).gz;
    const imported = await call('POST', '/api/v1/images/import?ref=alice/app:v1', { auth: basic('alice', password.alice), body: layer });
    expect(imported.status).toBe(201);
  });
  afterAll(async () => {
    await untrusted.close();
    await s?.stop();
  });

  it('signs in with a password: an HttpOnly SameSite=Strict cookie, not Secure over plain http, and an anti-CSRF token', async () => {
    const wrong = await call('POST', '/api/v1/session', { json: { username: 'alice', password: 'not-her-password' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect(errorOf(wrong).code).toBe('UNAUTHORIZED');

    const a = await signIn('alice', password.alice);
    const c = parseSetCookie(a.setCookie);
    expect(c).toMatchObject({ name: 'stevedore_session', httpOnly: true, sameSite: 'strict', path: '/' });
    expect(c.secure).toBeFalsy();
    expect(c.maxAge).toBeGreaterThan(TTL_SECONDS - 3);
    expect(c.maxAge).toBeLessThanOrEqual(TTL_SECONDS);
    expect(a.body).toEqual({
      user: 'alice',
      admin: false,
      createdAt: expect.any(String),
      expiresAt: expect.any(String),
      csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    expect(JSON.stringify(a.body)).not.toContain(password.alice);
    expect(Date.parse(a.body.expiresAt) - Date.parse(a.body.createdAt)).toBe(TTL_SECONDS * 1000);
  });

  it('marks the cookie Secure behind https: a trusted proxy says so, an untrusted client cannot', async () => {
    const viaProxy = await signIn('alice', password.alice, { 'x-forwarded-proto': 'https' });
    expect(parseSetCookie(viaProxy.setCookie).secure).toBe(true);
    const claimed = await signIn('alice', password.alice, { 'x-forwarded-proto': 'https' }, untrusted);
    expect(parseSetCookie(claimed.setCookie).secure).toBeFalsy();
  });

  it('GET /api/v1/session says who and until when; without a session it is 401', async () => {
    const a = await signIn('alice', password.alice);
    const r = await call('GET', '/api/v1/session', { cookie: a.cookie });
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.json()).toEqual(a.body);
    const none = await call('GET', '/api/v1/session');
    expect(none.status).toBe(401);
    expect(errorOf(none).detail).toEqual({ session: 'none' });
    const forged = await call('GET', '/api/v1/session', { cookie: 'stevedore_session=' + 'A'.repeat(43) });
    expect(forged.status).toBe(401);
    expect(errorOf(forged).detail).toEqual({ session: 'ended' });
  });

  it('every /api/v1 route takes the session through the access policy: her private repository, her account', async () => {
    const a = await signIn('alice', password.alice);
    const images = await call('GET', '/api/v1/images', { cookie: a.cookie });
    expect(images.status).toBe(200);
    expect(images.json().items.map((i: { repository: string }) => i.repository)).toContain('alice/app');
    expect((await call('GET', '/api/v1/images/inspect?ref=alice/app:v1', { cookie: a.cookie })).status).toBe(200);
    expect((await call('GET', '/api/v1/users/alice', { cookie: a.cookie })).status).toBe(200);
    // Bob's session is bob: her repository and her account are not his.
    const b = await signIn('bob', password.bob);
    const his = await call('GET', '/api/v1/images', { cookie: b.cookie });
    expect(his.json().items.map((i: { repository: string }) => i.repository)).not.toContain('alice/app');
    expect((await call('GET', '/api/v1/images/inspect?ref=alice/app:v1', { cookie: b.cookie })).status).toBe(403);
    expect((await call('GET', '/api/v1/users/alice', { cookie: b.cookie })).status).toBe(404);
    // Admin-only routes stay admin-only.
    expect((await call('GET', '/api/v1/users', { cookie: a.cookie })).status).toBe(403);
  });

  it('refuses an unsafe request by cookie without its anti-CSRF token (403 in the error envelope)', async () => {
    const a = await signIn('alice', password.alice);
    const tag = { source: 'alice/app:v1', target: 'alice/app:csrf' };
    for (const csrf of [undefined, 'x'.repeat(43), (await signIn('alice', password.alice)).csrf]) {
      const r = await call('POST', '/api/v1/images/tag', { cookie: a.cookie, csrf, json: tag });
      expect(r.status).toBe(403);
      expect(r.json()).toEqual({
        errors: [{ code: 'DENIED', message: expect.stringContaining('x-csrf-token'), detail: { session: 'csrf' } }],
      });
    }
    const tagsBefore = await call('GET', '/api/v1/images?repository=alice/app', { cookie: a.cookie });
    expect(tagsBefore.json().items.map((i: { tag: string }) => i.tag)).toEqual(['v1']);
    const ok = await call('POST', '/api/v1/images/tag', { cookie: a.cookie, csrf: a.csrf, json: tag });
    expect(ok.status).toBe(201);
    const tagsAfter = await call('GET', '/api/v1/images?repository=alice/app', { cookie: a.cookie });
    expect(
      tagsAfter
        .json()
        .items.map((i: { tag: string }) => i.tag)
        .sort(),
    ).toEqual(['csrf', 'v1']);
    // Signing out is unsafe too: without the token the session lives on.
    expect((await call('DELETE', '/api/v1/session', { cookie: a.cookie })).status).toBe(403);
    expect((await call('GET', '/api/v1/session', { cookie: a.cookie })).status).toBe(200);
  });

  it('a header wins over the cookie, and /v2 never takes the cookie', async () => {
    const a = await signIn('alice', password.alice);
    const asBob = await call('GET', '/api/v1/users/alice', { cookie: a.cookie, auth: basic('bob', password.bob) });
    expect(asBob.status).toBe(404);
    expect((await call('GET', '/v2/alice/app/tags/list', { cookie: a.cookie })).status).toBe(401);
    expect((await call('GET', '/v2/alice/app/tags/list', { auth: basic('alice', password.alice) })).status).toBe(200);
  });

  it('signing out revokes the session and clears the cookie; the old cookie is refused', async () => {
    const a = await signIn('alice', password.alice);
    const out = await call('DELETE', '/api/v1/session', { cookie: a.cookie, csrf: a.csrf });
    expect(out.status).toBe(204);
    expect(parseSetCookie(String(out.headers['set-cookie']))).toMatchObject({ name: 'stevedore_session', value: '', maxAge: 0 });
    const after = await call('GET', '/api/v1/images', { cookie: a.cookie });
    expect(after.status).toBe(401);
    expect(errorOf(after).detail).toEqual({ session: 'ended' });
    // Signing out of an ended session still clears its cookie.
    expect((await call('DELETE', '/api/v1/session', { cookie: a.cookie })).status).toBe(204);
  });

  it("a password change ends all of the user's sessions, and the new password signs in", async () => {
    const one = await signIn('bob', password.bob);
    const two = await signIn('bob', password.bob);
    const changed = await call('PATCH', '/api/v1/users/bob', { cookie: one.cookie, csrf: one.csrf, json: { password: 'bob-password-2' } });
    expect(changed.status).toBe(200);
    password.bob = 'bob-password-2';
    for (const c of [one, two]) expect((await call('GET', '/api/v1/session', { cookie: c.cookie })).status).toBe(401);
    const again = await signIn('bob', password.bob);
    expect((await call('GET', '/api/v1/session', { cookie: again.cookie })).status).toBe(200);
  });

  it('disabling an account ends its sessions, and enabling it again does not bring them back', async () => {
    const a = await signIn('alice', password.alice);
    expect((await call('PATCH', '/api/v1/users/alice', { auth: admin(), json: { disabled: true } })).status).toBe(200);
    expect((await call('GET', '/api/v1/images', { cookie: a.cookie })).status).toBe(401);
    expect((await call('POST', '/api/v1/session', { json: { username: 'alice', password: password.alice } })).status).toBe(401);
    expect((await call('PATCH', '/api/v1/users/alice', { auth: admin(), json: { disabled: false } })).status).toBe(200);
    expect((await call('GET', '/api/v1/images', { cookie: a.cookie })).status).toBe(401);
    expect((await call('GET', '/api/v1/session', { cookie: (await signIn('alice', password.alice)).cookie })).status).toBe(200);
  });

  it('robots do not sign in', async () => {
    const robot = await call('POST', '/api/v1/robots', {
      auth: admin(),
      json: { name: 'admin.ci', scopes: [{ repository: 'alice/*', actions: ['pull'] }] },
    });
    expect(robot.status).toBe(201);
    const r = await call('POST', '/api/v1/session', { json: { username: 'admin.ci', password: robot.json().secret } });
    expect(r.status).toBe(403);
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  it('a session expires after its lifetime', async () => {
    const a = await signIn('alice', password.alice);
    expect((await call('GET', '/api/v1/session', { cookie: a.cookie })).status).toBe(200);
    await sleep(TTL_SECONDS * 1000 + 500);
    const r = await call('GET', '/api/v1/images', { cookie: a.cookie });
    expect(r.status).toBe(401);
    expect(errorOf(r).detail).toEqual({ session: 'ended' });
  });

  it('Redis keeps no password and no usable cookie id', async () => {
    const a = await signIn('alice', password.alice);
    const id = a.cookie.split('=')[1];
    const redis = await openTestRedis(s.redisUrl);
    try {
      const keys = await keysEverywhere(redis, '*auth:session*');
      expect(keys.length).toBeGreaterThan(0);
      const everything = [
        ...keys,
        ...(await Promise.all(
          keys.map((k) => redis.type(k).then((t) => (t === 'string' ? redis.get(k) : redis.smembers(k).then((m) => m.join(' '))))),
        )),
      ].join('\n');
      expect(everything).not.toContain(id);
      expect(everything).not.toContain(password.alice);
    } finally {
      redis.disconnect();
    }
  });
});
