// The web UI in a real browser (Debian's chromium, driven by playwright-core) against a real
// platform (all-in-one, real Redis): sign in, find a repository, open an image and see its Cmd and
// Author, sign out (the session is revoked on the server); a second user does not see the first
// user's private repository; a session ended on the server leads to a page that says so; axe-core
// finds no serious or critical WCAG 2.1 A/AA violation on any of those pages.
// STEVEDORE_UI_SCREENSHOTS=<dir> also writes a screenshot of each page there (docs/ui/).
import { makeLayer, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import type { BrowserContext, Page } from 'playwright-core';
import { AUTHOR, CMD, accessible as axeOn, basic, launchBrowser, shot as shotOf, signIn as signInAs } from './harness';

jest.setTimeout(180_000);

describe('web UI in chromium', () => {
  let s: StevedoreUnderTest;
  let context: BrowserContext;
  let page: Page;
  let closeBrowser: (() => Promise<void>) | undefined;
  const passwords = { alice: 'alice-password-1', bob: 'bob-password-1' };

  async function api(method: string, p: string, auth: string, body?: Buffer | string, type = 'application/json'): Promise<Response> {
    return fetch(s.url + p, { method, headers: { authorization: auth, ...(body ? { 'content-type': type } : {}) }, body });
  }

  const accessible = (name: string) => axeOn(page, name);
  const shot = (name: string) => shotOf(page, name);
  const signIn = (user: 'alice' | 'bob') => signInAs(page, s.url, user, passwords[user]);

  beforeAll(async () => {
    s = await startStevedore();
    const admin = basic(s.admin.user, s.admin.password);
    for (const name of ['alice', 'bob'] as const) {
      expect((await api('POST', '/api/v1/users', admin, JSON.stringify({ name, password: passwords[name] }))).status).toBe(201);
    }
    const q = new URLSearchParams({ ref: 'alice/busybox:v1', author: AUTHOR, message: 'the seed image', change: `CMD ${CMD}` });
    const layer = makeLayer({ 'bin/httpd': 'httpd\n', 'home/html/index.html': '<h1>hello</h1>\n' }).gz;
    expect((await api('POST', `/api/v1/images/import?${q}`, basic('alice', passwords.alice), layer, 'application/gzip')).status).toBe(201);
    const bobs = makeLayer({ 'etc/motd': 'bob\n' }).gz;
    expect(
      (await api('POST', '/api/v1/images/import?ref=bob/tools:v1', basic('bob', passwords.bob), bobs, 'application/gzip')).status,
    ).toBe(201);
    ({ context, page, close: closeBrowser } = await launchBrowser());
  });

  afterAll(async () => {
    await closeBrowser?.();
    await s?.stop();
  });

  it("serves the UI at / with cache headers, the page for client routes, and never the page for the platform's paths", async () => {
    const index = await fetch(`${s.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const html = await index.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(s.url + script);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    const client = await fetch(`${s.url}/r/alice/busybox`);
    expect({ status: client.status, body: await client.text() }).toEqual({ status: 200, body: html });
    for (const p of ['/v2/', '/api/v1/no-such-route', '/metrics', '/healthz', '/readyz', '/auth/jwks.json', '/assets/no-such.js']) {
      const r = await fetch(s.url + p);
      expect({ p, html: (r.headers.get('content-type') ?? '').startsWith('text/html') }).toEqual({ p, html: false });
    }
    const missing = await fetch(`${s.url}/api/v1/no-such-route`);
    expect({ status: missing.status, body: await missing.json() }).toEqual({
      status: 404,
      body: { errors: [{ code: 'NOT_FOUND', message: 'Cannot GET /api/v1/no-such-route' }] },
    });
  });

  it('signs in, finds a repository, opens an image with its Cmd and Author, and signs out', async () => {
    await page.goto(`${s.url}/`);
    await page.getByRole('heading', { level: 1, name: 'Repositories' }).waitFor();
    expect(await page.getByRole('link', { name: 'alice/busybox' }).count()).toBe(0);

    await page.goto(`${s.url}/sign-in`);
    await shot('sign-in');
    await accessible('sign in');
    await signIn('alice');
    // The cookie is HttpOnly: the page's scripts never see it.
    expect(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie)).not.toContain(
      'stevedore_session',
    );

    await page.getByLabel('Search by name').fill('busy');
    await page.getByRole('link', { name: 'alice/busybox' }).waitFor();
    expect(await page.getByRole('link', { name: 'bob/tools' }).count()).toBe(0);
    await shot('repositories');
    await accessible('repositories');
    await page.getByRole('link', { name: 'alice/busybox' }).click();

    await page.getByRole('heading', { level: 1, name: 'alice/busybox' }).waitFor();
    await page.getByRole('link', { name: 'v1', exact: true }).waitFor();
    await shot('repository');
    await accessible('repository');
    await page.getByRole('link', { name: 'v1', exact: true }).click();

    await page.getByRole('heading', { level: 2, name: 'Configuration' }).waitFor();
    const fact = (term: string) => page.locator('.fact', { has: page.locator('dt', { hasText: new RegExp(`^${term}$`) }) }).locator('dd');
    expect(await fact('Cmd').textContent()).toBe(CMD);
    expect(await fact('Author').textContent()).toBe(AUTHOR);
    // The layer the import made, with its digest and sizes.
    const layers = page.getByRole('table', { name: /History entries/ }).locator('tbody tr');
    const cells = await layers.first().locator('td').allTextContents();
    expect(cells).toEqual([
      '1',
      expect.any(String),
      expect.stringMatching(/^sha256:[0-9a-f]{12}$/),
      expect.stringMatching(/^\d+(\.\d)? (B|KB)$/),
      expect.stringMatching(/^\d+(\.\d)? (B|KB)$/),
      expect.stringMatching(/UTC$/),
    ]);
    await shot('image');
    await accessible('image');

    const [cookie] = (await context.cookies(s.url)).filter((c) => c.name === 'stevedore_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You signed out').waitFor();
    expect((await context.cookies(s.url)).filter((c) => c.name === 'stevedore_session')).toEqual([]);
    // Revoked on the server, not just forgotten by the browser.
    const replay = await fetch(`${s.url}/api/v1/session`, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
    expect(replay.status).toBe(401);
  });

  it("browses an image's union filesystem to a file a later layer replaced, and names that layer", async () => {
    // v2: the seed's flow on the server: a container of v1, index.html rewritten, committed.
    const auth = basic('alice', passwords.alice);
    const created = await api('POST', '/api/v1/containers', auth, JSON.stringify({ image: 'alice/busybox:v1' }));
    expect(created.status).toBe(201);
    const id = ((await created.json()) as { id: string }).id;
    const put = await api(
      'PUT',
      `/api/v1/containers/${id}/files?path=/home/html/index.html&mode=0644`,
      auth,
      '<h1>v2</h1>\n',
      'application/octet-stream',
    );
    expect(put.status).toBeLessThan(300);
    const commit = await api('POST', '/api/v1/commits', auth, JSON.stringify({ container: id, reference: 'alice/busybox:v2' }));
    const job = ((await commit.json()) as { id: string }).id;
    for (let i = 0; ; i++) {
      const st = (await (await api('GET', `/api/v1/jobs/${job}`, auth)).json()) as { state: string };
      if (st.state === 'completed') break;
      if (st.state === 'failed' || i > 100) throw new Error(`commit ${st.state}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    await signIn('alice');
    await page.goto(`${s.url}/image/alice/busybox:v2`);
    await page.getByRole('link', { name: 'Browse the files' }).click();
    await page.getByRole('heading', { level: 1, name: 'Files of alice/busybox:v2' }).waitFor();
    await page.getByRole('link', { name: 'home', exact: true }).click();
    await page.getByRole('link', { name: 'html', exact: true }).click();
    const row = page.getByRole('table', { name: 'Entries of /home/html' }).locator('tbody tr', { hasText: 'index.html' });
    await row.waitFor();
    expect(await row.locator('td').allTextContents()).toEqual(['index.html', 'file', '12 B', '0644', 'layer 2', 'layer 1']);
    await shot('files');
    await accessible('files');
    await page.getByRole('link', { name: 'index.html' }).click();
    await page.getByText('A file from layer 2, shadowing layer 1.').waitFor();
    // The commit's layer as its changeset: index.html changed; its parent directories, the same as below, are no change.
    await page.getByRole('link', { name: 'Changes of layer 2' }).click();
    await page.getByRole('heading', { level: 1, name: 'Layer 2 of alice/busybox:v2' }).waitFor();
    const change = page.getByRole('table').locator('tbody tr', { hasText: '/home/html/index.html' });
    await change.waitFor();
    expect(await change.locator('td').allTextContents()).toEqual(['C', '/home/html/index.html', 'file', '12 B']);
    await shot('changes');
    await accessible('changes');
    // bin/httpd is only in the imported layer.
    await page.goto(`${s.url}/files/alice/busybox:v2?path=%2Fbin`);
    const httpd = page.getByRole('table', { name: 'Entries of /bin' }).locator('tbody tr', { hasText: 'httpd' });
    await httpd.waitFor();
    expect((await httpd.locator('td').allTextContents()).slice(4)).toEqual(['layer 1', '—']);
  });

  it("a second user does not see the first user's private repository", async () => {
    await signIn('bob');
    await page.getByRole('link', { name: 'bob/tools' }).waitFor();
    expect(await page.getByRole('link', { name: 'alice/busybox' }).count()).toBe(0);
    await page.goto(`${s.url}/image/alice/busybox:v1`);
    expect(await page.getByRole('alert').textContent()).toBe('There is no such image, or you may not see it.');
    expect(await page.getByText(AUTHOR).count()).toBe(0);
    await page.goto(`${s.url}/r/alice/busybox`);
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('link', { name: 'v1', exact: true }).count()).toBe(0);
  });

  it('a session ended on the server (password changed) leads to a page that says so', async () => {
    await signIn('bob');
    const admin = basic(s.admin.user, s.admin.password);
    expect((await api('PATCH', '/api/v1/users/bob', admin, JSON.stringify({ password: 'bob-password-2' }))).status).toBe(200);
    await page.getByRole('link', { name: 'bob/tools' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your session has ended' }).waitFor();
    await shot('session-ended');
    await accessible('session ended');
    // Going on anonymously works: the ended session's cookie was cleared.
    await page.getByRole('link', { name: /Go on without signing in/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Repositories' }).waitFor();
    expect(await page.getByRole('link', { name: 'Sign in' }).count()).toBe(1);
  });
});
