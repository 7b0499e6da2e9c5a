// The Jobs and Administration pages, a file download and referrers in a real browser (Debian's
// chromium, driven by playwright-core) against a real platform (all-in-one, real Redis): an admin
// runs a GC dry run and sees what it would free, sees the users and creates one; a user who is not
// an admin sees no Administration link, its URL refuses them and so does the server; a user saves
// two tags as an export job, downloads the archive (a tar with index.json and manifest.json) and
// uploads it back as a load with the upload's progress bar reaching 100%; a file of an image
// downloads with the bytes it has in the image. axe-core finds no serious or critical WCAG 2.1 A/AA
// violation on any of those pages. STEVEDORE_UI_SCREENSHOTS=<dir> writes jobs.png and admin.png.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import tar from 'tar-stream';
import type { Page } from 'playwright-core';
import { makeLayer, pushImage, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { accessible as axeOn, basic, launchBrowser, shot as shotOf, signIn as signInAs } from './harness';

jest.setTimeout(240_000);

const MOTD = `hello from a layer ${randomBytes(8).toString('hex')}\n`;
const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';

/** A tar's entries by name. */
async function tarEntries(archive: Buffer): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  const extract = tar.extract();
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(c as Buffer));
      stream.on('end', () => {
        entries.set(header.name, Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    extract.end(archive);
  });
  return entries;
}

describe('jobs, administration and downloads in chromium', () => {
  let s: StevedoreUnderTest;
  let page: Page;
  let closeBrowser: (() => Promise<void>) | undefined;
  let downloads: string;
  const passwords = { alice: 'alice-password-1' } as Record<string, string>;
  let signature: string;

  async function api(method: string, p: string, auth: string, body?: Buffer | string, type = 'application/json'): Promise<Response> {
    return fetch(s.url + p, { method, headers: { authorization: auth, ...(body ? { 'content-type': type } : {}) }, body });
  }

  const accessible = (name: string) => axeOn(page, name);
  const shot = (name: string) => shotOf(page, name);
  const signIn = (user: string) => signInAs(page, s.url, user, passwords[user]);

  /** Clicks what starts a download and returns the bytes the browser saved. */
  async function download(click: () => Promise<void>): Promise<{ name: string; bytes: Buffer }> {
    const [d] = await Promise.all([page.waitForEvent('download'), click()]);
    const file = path.join(downloads, `${randomBytes(4).toString('hex')}-${d.suggestedFilename()}`);
    await d.saveAs(file);
    expect(await d.failure()).toBeNull();
    return { name: d.suggestedFilename(), bytes: readFileSync(file) };
  }

  beforeAll(async () => {
    s = await startStevedore();
    passwords[s.admin.user] = s.admin.password;
    const admin = basic(s.admin.user, s.admin.password);
    expect((await api('POST', '/api/v1/users', admin, JSON.stringify({ name: 'alice', password: passwords.alice }))).status).toBe(201);
    const alice = basic('alice', passwords.alice);
    for (const tag of ['v1', 'v2']) {
      const layer = makeLayer({ 'etc/motd': MOTD, [`srv/${tag}.txt`]: `${tag}\n` }).gz;
      expect((await api('POST', `/api/v1/images/import?ref=alice/app:${tag}`, alice, layer, 'application/gzip')).status).toBe(201);
    }
    // A signed image of its own (the load below writes alice/app again): an artifact whose subject is it.
    // Pushed with the harness's admin credentials (an admin may push anywhere).
    const signed = await pushImage(s.url, 'alice/signed', 'v1');
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: signed.digest, size: signed.manifest.length };
    signature = (await pushImage(s.url, 'alice/signed', 'v1-sig', { artifactType: SIG, subject })).digest;
    downloads = mkdtempSync(path.join(os.tmpdir(), 'stevedore-downloads-'));
    ({ page, close: closeBrowser } = await launchBrowser({ acceptDownloads: true }));
  });

  afterAll(async () => {
    await closeBrowser?.();
    if (downloads) rmSync(downloads, { recursive: true, force: true });
    await s?.stop();
  });

  it('an admin sees the users, creates one, and runs a GC dry run that reports what it would free', async () => {
    await signIn(s.admin.user);
    await page.getByRole('link', { name: 'Administration' }).click();
    const users = page.getByRole('table', { name: 'Users' });
    await users.locator('tbody tr', { hasText: 'alice' }).waitFor();
    await accessible('administration: users');
    await page.getByRole('textbox', { name: 'User name' }).fill('carol');
    await page.getByLabel('Password', { exact: true }).fill('carol-password-1');
    await page.getByRole('button', { name: 'Create the user' }).click();
    await page.getByText('Created carol.').waitFor();
    await users.locator('tbody tr', { hasText: 'carol' }).waitFor();
    const listed = (await (await api('GET', '/api/v1/users', basic(s.admin.user, s.admin.password))).json()) as Array<{ name: string }>;
    expect(listed.map((u) => u.name)).toContain('carol');
    await shot('admin');

    await page.getByRole('link', { name: 'Garbage collection' }).click();
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByText(/^Started a dry run/).waitFor();
    const runs = page.getByRole('table', { name: /Garbage collection runs/ });
    const done = runs.locator('tbody tr', { hasText: 'completed' }).first();
    await done.waitFor({ timeout: 60_000 });
    const cells = await done.locator('td').allTextContents();
    expect(cells.slice(1)).toEqual([
      'dry run',
      'completed',
      expect.stringMatching(/^\d+(\.\d)? (B|KB|MB|GB) \(would free\)$/),
      expect.stringMatching(/^\d+ tags, \d+ manifests, \d+ blobs, \d+ uploads.* \(would delete\)$/),
      expect.stringMatching(/^\d+\.\d s$/),
    ]);
    // The server ran it as a dry run.
    const stored = (await (await api('GET', '/api/v1/gc/runs', basic(s.admin.user, s.admin.password))).json()) as {
      runs: Array<{ request: { dryRun: boolean }; result?: { dryRun: boolean } }>;
    };
    expect(stored.runs[0]).toMatchObject({ request: { dryRun: true }, result: { dryRun: true } });
    await shot('admin-gc');
    await accessible('administration: garbage collection');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You signed out').waitFor();
  });

  it('a user who is not an admin sees no Administration link, its URL refuses them, and so does the server', async () => {
    await signIn('alice');
    await page.getByRole('link', { name: 'Jobs' }).waitFor();
    expect(await page.getByRole('link', { name: 'Administration' }).count()).toBe(0);
    await page.goto(`${s.url}/administration/users`);
    expect(await page.getByRole('alert').textContent()).toBe('Only administrators may see this page.');
    expect(await page.getByRole('table').count()).toBe(0);
    // With the page's own session: the admin routes answer 403, whatever the page shows.
    const statuses = await page.evaluate(async () => {
      const f = (globalThis as unknown as { fetch: typeof fetch }).fetch;
      return Promise.all(['/api/v1/users', '/api/v1/gc/runs', '/api/v1/quotas'].map(async (u) => (await f(u)).status));
    });
    expect(statuses).toEqual([403, 403, 403]);
  });

  it('saves two tags as an export job, downloads the archive, and loads it back with the upload progress reaching 100%', async () => {
    await signIn('alice');
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
    await page.getByRole('textbox', { name: 'Images', exact: true }).fill('alice/app:v1 alice/app:v2');
    await page.getByRole('button', { name: 'Start the export' }).click();
    await page.getByText(/^Saving alice\/app:v1, alice\/app:v2/).waitFor();
    const row = page.locator('tbody tr', { hasText: 'save alice/app:v1 alice/app:v2' });
    await row.getByRole('link', { name: /^Download/ }).waitFor({ timeout: 60_000 });
    expect((await row.locator('td').allTextContents()).slice(0, 4)).toEqual([
      'export',
      'save alice/app:v1 alice/app:v2',
      'completed',
      '100%',
    ]);
    await accessible('jobs');

    const archive = await download(() => row.getByRole('link', { name: /^Download/ }).click());
    const entries = await tarEntries(archive.bytes);
    expect([...entries.keys()]).toEqual(expect.arrayContaining(['index.json', 'manifest.json', 'oci-layout']));
    const manifest = JSON.parse(entries.get('manifest.json')!.toString()) as Array<{ RepoTags: string[] }>;
    expect(manifest.flatMap((m) => m.RepoTags).sort()).toEqual(['alice/app:v1', 'alice/app:v2']);

    // A load may write any repository its archive names: the server takes it from admins only, and
    // the page does not offer it to alice.
    expect(await page.getByRole('radio', { name: /docker load: administrators only/ }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You signed out').waitFor();

    // An admin loads it back (the archive names its images: alice/app:v1 and v2 again).
    await signIn(s.admin.user);
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page
      .getByLabel('Archive', { exact: true })
      .setInputFiles({ name: 'app.tar', mimeType: 'application/x-tar', buffer: archive.bytes });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByText('Uploaded app.tar: the load job reads it now (see the list below).').waitFor({ timeout: 60_000 });
    const bar = page.getByRole('progressbar', { name: 'Upload' });
    expect(await bar.getAttribute('aria-valuenow')).toBe('100');
    expect(await bar.textContent()).toMatch(/^100% \(/);
    const load = page.locator('tbody tr', { hasText: /^importload/ }).first();
    await load.locator('td', { hasText: /^completed$/ }).waitFor({ timeout: 60_000 });
    // The load's own status: both images, as the archive named them.
    const imports = (await (await api('GET', '/api/v1/jobs?kind=import', basic(s.admin.user, s.admin.password))).json()) as {
      items: Array<{ id: string }>;
    };
    const report = (await (await api('GET', `/api/v1/imports/${imports.items[0].id}`, basic(s.admin.user, s.admin.password))).json()) as {
      result: { loaded: string[] };
    };
    expect(report.result.loaded.sort()).toEqual(['Loaded image: alice/app:v1', 'Loaded image: alice/app:v2']);
    await accessible('jobs (admin)');
    await shot('jobs');
  });

  it("downloads one file of an image from its files page, with the bytes it has in the image, and shows the image's signature", async () => {
    await signIn('alice');
    await page.goto(`${s.url}/files/alice/app:v1?path=%2Fetc%2Fmotd`);
    await page.getByText('A file from layer 1.').waitFor();
    const file = await download(() => page.getByRole('link', { name: /^Download motd/ }).click());
    expect(file.name).toBe('motd');
    expect(file.bytes.toString()).toBe(MOTD);
    await accessible('files: a file');

    await page.goto(`${s.url}/image/alice/signed:v1`);
    const referrers = page.getByRole('table', { name: 'Artifacts that name this image as their subject' });
    const sig = referrers.locator('tbody tr', { hasText: SIG });
    await sig.waitFor();
    expect(await sig.locator('td').allTextContents()).toEqual(['signature', SIG, signature.slice(0, 19), expect.stringMatching(/B$/)]);
    await accessible('image with referrers');
  });
});
