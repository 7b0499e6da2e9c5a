// The containers pages in a real browser against a real platform (all-in-one, real Redis), doing the
// issue's flow through the UI: sign in, create a container from an imported image (from the image's
// page), upload /home/html/index.html, delete a file (a whiteout appears), commit as
// alice/busy_httpd:v0.2 with the seed's author and CMD, watch the job's progress to the end, open
// the new image and see its Cmd and Author, untag it, sign out. A second user sees neither the first
// user's private repositories nor containers, and the server refuses a container's direct URL.
// A batch commit of two containers shows each child's progress to its image.
// axe-core on each page; STEVEDORE_UI_SCREENSHOTS=docs/ui writes containers.png, container.png,
// commit.png and commit-batch.png.
import { makeLayer, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import type { Page } from 'playwright-core';
import { AUTHOR, CMD, accessible, basic, launchBrowser, shot, signIn } from './harness';

jest.setTimeout(180_000);

const INDEX = '<h1>busy httpd</h1>\n';
const EDITED = '<h1>busy httpd</h1>\n<p>edited in place</p>\n';

describe('containers pages in chromium', () => {
  let s: StevedoreUnderTest;
  let page: Page;
  let closeBrowser: (() => Promise<void>) | undefined;
  const passwords = { alice: 'alice-password-1', bob: 'bob-password-1' };
  let containerPath: string | undefined;

  async function api(method: string, p: string, auth: string, body?: Buffer | string, type = 'application/json'): Promise<Response> {
    return fetch(s.url + p, { method, headers: { authorization: auth, ...(body ? { 'content-type': type } : {}) }, body });
  }

  const cellsOf = async (row: ReturnType<Page['locator']>) => row.locator('td').allTextContents();

  beforeAll(async () => {
    s = await startStevedore();
    const admin = basic(s.admin.user, s.admin.password);
    for (const name of ['alice', 'bob'] as const) {
      expect((await api('POST', '/api/v1/users', admin, JSON.stringify({ name, password: passwords[name] }))).status).toBe(201);
    }
    // The seed image, imported as `docker import` would: an httpd and two pages.
    const layer = makeLayer({ 'bin/httpd': 'httpd\n', 'home/html/index.html': '<h1>hello</h1>\n', 'home/html/about.html': 'about\n' }).gz;
    const q = new URLSearchParams({ ref: 'alice/busybox:v1', message: 'the seed image' });
    expect((await api('POST', `/api/v1/images/import?${q}`, basic('alice', passwords.alice), layer, 'application/gzip')).status).toBe(201);
    const bobs = makeLayer({ 'etc/motd': 'bob\n' }).gz;
    expect(
      (await api('POST', '/api/v1/images/import?ref=bob/tools:v1', basic('bob', passwords.bob), bobs, 'application/gzip')).status,
    ).toBe(201);
    ({ page, close: closeBrowser } = await launchBrowser());
  });

  afterAll(async () => {
    await closeBrowser?.();
    await s?.stop();
  });

  it('creates a container from an image, uploads index.html, deletes a file, commits busy_httpd:v0.2 with the author and CMD, and untags it', async () => {
    await signIn(page, s.url, 'alice', passwords.alice);

    // From the image's page to the create form, the image filled in.
    await page.goto(`${s.url}/image/alice/busybox:v1`);
    await page.getByRole('link', { name: 'Create container' }).click();
    await page.getByRole('heading', { level: 1, name: 'Containers' }).waitFor();
    expect(await page.getByLabel('Image').inputValue()).toBe('alice/busybox:v1');
    await page.getByLabel('Name (optional)').fill('busy1');
    await page.getByRole('button', { name: 'Create container' }).click();
    await page.getByRole('heading', { level: 1, name: 'Container busy1' }).waitFor();
    containerPath = new URL(page.url()).pathname;
    expect(containerPath).toMatch(/^\/containers\/[^/]+$/);

    // The merged view, down to /home/html: nothing changed yet.
    await page.getByRole('link', { name: 'home', exact: true }).click();
    await page.getByRole('link', { name: 'html', exact: true }).click();
    const entries = page.getByRole('table', { name: /^Entries of \/home\/html/ });
    const row = (name: string) => entries.locator('tbody tr', { has: page.getByRole('cell', { name, exact: true }) });
    await row('index.html').waitFor();
    expect((await cellsOf(row('index.html'))).slice(0, 4)).toEqual(['—', 'index.html', 'file', '15 B']);

    // Upload the new index.html to its path.
    await page.getByLabel('File to upload').setInputFiles({ name: 'index.html', mimeType: 'text/html', buffer: Buffer.from(INDEX) });
    expect(await page.getByLabel('Path in the container').inputValue()).toBe('/home/html/');
    await page.getByLabel('Path in the container').fill('/home/html/index.html');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Uploaded /home/html/index.html.' }).waitFor();
    await page.getByText('C (changed)', { exact: true }).first().waitFor();
    expect((await cellsOf(row('index.html'))).slice(0, 4)).toEqual(['C (changed)', 'index.html', 'file', `${INDEX.length} B`]);

    // Delete about.html: the merged view no longer has it; the read-write layer's whiteout is listed.
    await page.getByRole('button', { name: 'Delete /home/html/about.html' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted /home/html/about.html.' }).waitFor();
    await row('about.html').locator('del').waitFor();
    expect(await cellsOf(row('about.html'))).toEqual(['D (deleted)', 'about.html', 'whiteout', '—', '—', '']);
    // docker diff.
    const diff = page.getByRole('table', { name: /^docker diff/ }).locator('tbody tr');
    expect(await diff.allTextContents()).toEqual(
      expect.arrayContaining(['C (changed)/home/html/index.html', 'D (deleted)/home/html/about.html']),
    );
    // The uploaded file reads back from the server; edited in place, it reads back edited.
    await page.getByRole('link', { name: 'index.html', exact: true }).first().click();
    const editor = page.getByLabel('Content of /home/html/index.html');
    expect(await editor.inputValue()).toBe(INDEX);
    await editor.fill(EDITED);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved /home/html/index.html.' }).waitFor();
    await page.reload();
    expect(await page.getByLabel('Content of /home/html/index.html').inputValue()).toBe(EDITED);

    // docker pause / unpause.
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Paused busy1.' }).waitFor();
    expect(
      await page
        .locator('.fact', { has: page.locator('dt', { hasText: /^State$/ }) })
        .locator('dd')
        .textContent(),
    ).toMatch(/^paused/);
    await page.getByRole('button', { name: 'Unpause' }).click();
    await page.getByRole('status').filter({ hasText: 'Unpaused busy1.' }).waitFor();
    await page.goto(`${s.url}${containerPath}?path=%2Fhome%2Fhtml`);
    await row('about.html').waitFor();
    await shot(page, 'container');
    await accessible(page, 'container');

    await page.getByRole('link', { name: 'Containers', exact: true }).first().click();
    const listed = page.getByRole('table', { name: /^Containers/ }).locator('tbody tr');
    await listed.first().waitFor();
    expect((await cellsOf(listed.first())).slice(1, 5)).toEqual([
      'busy1',
      expect.stringMatching(/^alice\/busybox:v1 sha256:[0-9a-f]{12}$/),
      'running',
      expect.stringMatching(/in the read-write layer$/),
    ]);
    await shot(page, 'containers');
    await accessible(page, 'containers');

    // Commit with the seed's options: -a, -m, -c CMD, -p.
    await page.getByRole('link', { name: 'busy1' }).click();
    await page.getByRole('link', { name: 'Commit', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Commit a container' }).waitFor();
    await page.getByLabel(/^Image/).fill('alice/busy_httpd:v0.2');
    await page.getByLabel('Author (-a)').fill(AUTHOR);
    await page.getByLabel('Message (-m)').fill('serve /home/html');
    await page.getByLabel(/^Changes \(-c\)/).fill(`CMD ${CMD}`);
    expect(await page.getByRole('checkbox', { name: /Pause the container/ }).isChecked()).toBe(true);
    await shot(page, 'commit');
    await accessible(page, 'commit');
    // The job's event stream, to the end.
    const stream = page.waitForRequest((r) => /\/api\/v1\/jobs\/[^/]+\/events$/.test(new URL(r.url()).pathname));
    await page.getByRole('button', { name: 'Commit', exact: true }).click();
    await stream;
    await page.getByText('The commit finished.').waitFor({ timeout: 60_000 });
    expect(await page.getByRole('progressbar').first().getAttribute('aria-valuenow')).toBe('100');
    await accessible(page, 'commit progress');
    await page.getByRole('link', { name: 'alice/busy_httpd:v0.2' }).click();

    await page.getByRole('heading', { level: 2, name: 'Configuration' }).waitFor();
    const fact = (term: string) => page.locator('.fact', { has: page.locator('dt', { hasText: new RegExp(`^${term}$`) }) }).locator('dd');
    expect(await fact('Cmd').textContent()).toBe(CMD);
    expect(await fact('Author').textContent()).toBe(AUTHOR);
    expect(await fact('Comment').textContent()).toBe('serve /home/html');

    await page.getByRole('button', { name: 'Untag' }).click();
    await page.getByRole('status').filter({ hasText: 'Untagged alice/busy_httpd:v0.2.' }).waitFor();
    expect((await api('GET', '/api/v1/images/inspect?ref=alice/busy_httpd:v0.2', basic('alice', passwords.alice))).status).toBe(404);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You signed out').waitFor();
  });

  it("commits two containers as one batch and shows each child's progress to its image", async () => {
    await signIn(page, s.url, 'alice', passwords.alice);
    await page.getByRole('link', { name: 'Containers', exact: true }).click();
    for (const name of ['batch-a', 'batch-b']) {
      await page.getByLabel('Image').fill('alice/busybox:v1');
      await page.getByLabel('Name (optional)').fill(name);
      await page.getByRole('button', { name: 'Create container' }).click();
      await page.getByRole('heading', { level: 1, name: `Container ${name}` }).waitFor();
      await page.getByRole('link', { name: 'Containers', exact: true }).first().click();
    }
    // React Aria's checkbox is a visually hidden input in a label: a person clicks the label's box.
    for (const name of ['batch-a', 'batch-b']) {
      await page.locator('label', { has: page.getByRole('checkbox', { name: `Choose ${name}` }) }).click();
      expect(await page.getByRole('checkbox', { name: `Choose ${name}` }).isChecked()).toBe(true);
    }
    await page.getByRole('link', { name: 'Commit 2 containers' }).click();
    await page.getByRole('heading', { level: 1, name: 'Commit 2 containers' }).waitFor();
    await page.getByLabel(/^Image for batch-a/).fill('alice/batch-a:v1');
    await page.getByLabel(/^Image for batch-b/).fill('alice/batch-b:v1');
    await page.getByLabel('Author (-a)').fill(AUTHOR);
    await page.getByRole('button', { name: 'Commit', exact: true }).click();
    await page.getByText('The batch finished.').waitFor({ timeout: 60_000 });
    await page.getByText('2 of 2 commits made.').waitFor();
    const children = page.getByRole('table', { name: 'Each commit of the batch' });
    await children.getByRole('link', { name: 'alice/batch-b:v1' }).waitFor({ timeout: 10_000 });
    expect(await children.getByRole('link').allTextContents()).toEqual(['alice/batch-a:v1', 'alice/batch-b:v1']);
    expect(await children.getByRole('progressbar').evaluateAll((bars) => bars.map((b) => b.getAttribute('aria-valuenow')))).toEqual([
      '100',
      '100',
    ]);
    await shot(page, 'commit-batch');
    await accessible(page, 'batch commit');
    await children.getByRole('link', { name: 'alice/batch-a:v1' }).click();
    await page.getByRole('heading', { level: 2, name: 'Configuration' }).waitFor();
    const author = page.locator('.fact', { has: page.locator('dt', { hasText: /^Author$/ }) }).locator('dd');
    expect(await author.textContent()).toBe(AUTHOR);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You signed out').waitFor();
  });

  it("shows an admin everyone's containers, with their owner", async () => {
    await signIn(page, s.url, s.admin.user, s.admin.password);
    await page.getByRole('link', { name: 'Containers', exact: true }).click();
    const rows = page.getByRole('table', { name: /^Containers/ }).locator('tbody tr');
    await rows.first().waitFor();
    const owners = new Map<string, string>();
    for (const r of await rows.all()) {
      const cells = await r.locator('td').allTextContents();
      owners.set(cells[1], cells[5]);
    }
    expect(Object.fromEntries(owners)).toEqual({ busy1: 'alice', 'batch-a': 'alice', 'batch-b': 'alice' });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You signed out').waitFor();
  });

  it("a second user sees neither the first user's private repositories nor containers, and the server refuses a direct URL", async () => {
    expect(containerPath).toBeDefined();
    await signIn(page, s.url, 'bob', passwords.bob);
    await page.getByRole('link', { name: 'bob/tools' }).waitFor();
    expect(await page.getByRole('link', { name: /^alice\// }).count()).toBe(0);

    await page.getByRole('link', { name: 'Containers', exact: true }).click();
    await page.getByText('No containers yet.').waitFor();
    for (const name of ['busy1', 'batch-a', 'batch-b']) expect(await page.getByRole('link', { name }).count()).toBe(0);

    await page.goto(`${s.url}${containerPath}`);
    expect(await page.getByRole('alert').textContent()).toBe('There is no such container, or you may not see it.');
    expect(await page.getByRole('button', { name: 'Remove container' }).count()).toBe(0);
    // The page hides nothing the server would give: bob's own session asking directly is refused.
    const id = containerPath!.slice('/containers/'.length);
    const status = await page.evaluate(async (p) => (await fetch(p)).status, `/api/v1/containers/${id}/changes`);
    expect([403, 404]).toContain(status);
    await page.getByRole('button', { name: 'Sign out' }).click();
  });
});
