// One image store by ID, as a user runs the `stevedore` command against a real Stevedore (all-in-one,
// a private Redis, filesystem storage): one image tagged in three repositories is named by its
// short ID for inspect (every RepoTag and RepoDigest), history, tag and save; a user who may pull
// only one of the repositories sees only that one; a prefix two images share is refused as
// ambiguous; rmi by ID needs -f while several tags name the image and then removes it everywhere;
// a missing name is Docker's `No such image`; and reindex rebuilds the ID index after its keys
// are flushed.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { OCI_MANIFEST, http, pushBlob, startStevedore, useCredentials, type StevedoreUnderTest } from '@stevedore/testing';
import { type CliResult, ok, rootfsTarGz, runCli } from './cli-harness';

jest.setTimeout(180_000);

let sut: StevedoreUnderTest;
let dir: string;
let admin: Record<string, string>;
let alice: Record<string, string>;
const alicePassword = randomBytes(12).toString('base64url');

const as = (env: Record<string, string>) => (args: string[], input?: string) => runCli(args, { env, input });

/** Exactly one stderr line, non-zero exit. */
function fails(r: CliResult, line: string | RegExp): void {
  expect({ code: r.code === 0 ? 0 : 'non-zero', stdout: r.stdout }).toEqual({ code: 'non-zero', stdout: '' });
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  if (typeof line === 'string') expect(lines[0]).toBe(line);
  else expect(lines[0]).toMatch(line);
}

const configOf = (nonce: number) =>
  Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { nonce: String(nonce) } },
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
const hexOf = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Two image configs whose IDs share their first 4 hex digits (a birthday search: a few hundred tries). */
function collidingConfigs(): [Buffer, Buffer] {
  const seen = new Map<string, Buffer>();
  for (let nonce = 0; ; nonce++) {
    const c = configOf(nonce);
    const p = hexOf(c).slice(0, 4);
    const other = seen.get(p);
    if (other) return [other, c];
    seen.set(p, c);
  }
}

/** Push an image with this config (and no layers) over /v2 as the admin. */
async function pushWithConfig(name: string, tag: string, config: Buffer): Promise<void> {
  const digest = await pushBlob(sut.url, name, config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: config.length },
    layers: [],
  });
  const put = await http(sut.url, 'PUT', `/v2/${name}/manifests/${tag}`, manifest, { 'content-type': OCI_MANIFEST });
  expect(put.status).toBe(201);
}

beforeAll(async () => {
  sut = await startStevedore();
  dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-image-id-e2e-'));
  admin = { STEVEDORE_HOST: sut.url, STEVEDORE_CONFIG: path.join(dir, 'admin', 'config.json') };
  alice = { STEVEDORE_HOST: sut.url, STEVEDORE_CONFIG: path.join(dir, 'alice', 'config.json') };
  const made = await http(sut.url, 'POST', '/api/v1/users', JSON.stringify({ name: 'alice', password: alicePassword }), {
    'content-type': 'application/json',
  });
  expect(made.status).toBe(201);
  ok(await as(admin)(['login', '-u', sut.admin.user, '--password-stdin'], sut.admin.password + '\n'));
  ok(await as(alice)(['login', '-u', 'alice', '--password-stdin'], alicePassword + '\n'));
});

afterAll(async () => {
  await sut?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('an image ID names the image in every repository the caller may pull', () => {
  let id: string;
  let short: string;
  const a = () => as(admin);

  it('tag by short ID puts the image in a third repository', async () => {
    const file = path.join(dir, 'rootfs.tar.gz');
    writeFileSync(file, await rootfsTarGz({ 'bin/': '', 'bin/sh': '#!fake shell\n', 'etc/': '', 'etc/motd': 'one store\n' }));
    id = ok(await a()(['import', '-q', file, 'shared/one:1', '-c', 'CMD ["/bin/sh"]'])).stdout.trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    short = id.slice(7, 19);
    ok(await a()(['tag', 'shared/one:1', 'shared/two:1']));
    ok(await a()(['tag', short, 'alice/app:1']));
    expect(ok(await a()(['inspect', '--format', '{{.Id}}', 'alice/app:1'])).stdout.trim()).toBe(id);
  });

  it('inspect by short ID, full ID and sha256:ID lists all three repositories', async () => {
    for (const arg of [short, id, id.slice(7), `sha256:${short}`]) {
      const [img] = JSON.parse(ok(await a()(['inspect', arg])).stdout);
      expect(img.Id).toBe(id);
      expect(img.RepoTags).toEqual(['alice/app:1', 'shared/one:1', 'shared/two:1']);
      expect(img.RepoDigests.map((d: string) => d.split('@')[0])).toEqual(['alice/app', 'shared/one', 'shared/two']);
    }
    // By name it is still one repository's view.
    expect(JSON.parse(ok(await a()(['inspect', 'shared/one:1'])).stdout)[0].RepoTags).toEqual(['shared/one:1']);
  });

  it('a user who may pull only one of the repositories sees only that one', async () => {
    const [img] = JSON.parse(ok(await as(alice)(['inspect', short])).stdout);
    expect(img.RepoTags).toEqual(['alice/app:1']);
    expect(img.RepoDigests).toHaveLength(1);
    expect(img.RepoDigests[0]).toMatch(/^alice\/app@sha256:/);
    // The API itself answers her with that holder only; anonymous callers see nothing.
    useCredentials(sut.url, { user: 'alice', password: alicePassword });
    try {
      const r = await http(sut.url, 'GET', `/api/v1/image-ids/${short}`);
      expect(r.status).toBe(200);
      expect(r.json().holders.map((h: { repository: string }) => h.repository)).toEqual(['alice/app']);
    } finally {
      useCredentials(sut.url, sut.admin);
    }
    useCredentials(sut.url, null);
    try {
      const anon = await http(sut.url, 'GET', `/api/v1/image-ids/${short}`);
      expect(anon.status).toBe(404);
      expect(anon.body.toString()).not.toContain('shared');
    } finally {
      useCredentials(sut.url, sut.admin);
    }
  });

  it('history and save take the short ID', async () => {
    const h = ok(await a()(['history', short]))
      .stdout.trim()
      .split('\n');
    expect(h[0]).toMatch(/^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    expect(h[1]).toContain(short);
    const out = path.join(dir, 'by-id.tar');
    ok(await a()(['save', '-q', '-o', out, short]));
    const bytes = readFileSync(out);
    expect(bytes.subarray(257, 262).toString()).toBe('ustar');
    expect(bytes.includes(Buffer.from(id.slice(7)))).toBe(true);
  });

  it('a prefix two images share is ambiguous; a prefix no image has is No such image', async () => {
    const [c1, c2] = collidingConfigs();
    await pushWithConfig('amb/x', 'a', c1);
    await pushWithConfig('amb/x', 'b', c2);
    const prefix = hexOf(c1).slice(0, 4);
    fails(await a()(['inspect', prefix]), `Error: short ID ${prefix} is ambiguous`);
    fails(await a()(['rmi', '-f', `sha256:${prefix}`]), `Error: short ID sha256:${prefix} is ambiguous`);
    const api = await http(sut.url, 'GET', `/api/v1/image-ids/${prefix}`);
    expect(api.status).toBe(409);
    expect(api.json().errors[0]).toMatchObject({ code: 'CONFLICT', message: `short ID ${prefix} is ambiguous` });
    // Longer prefixes tell them apart.
    expect(ok(await a()(['inspect', '-f', '{{.Id}}', hexOf(c2).slice(0, 12)])).stdout.trim()).toBe(`sha256:${hexOf(c2)}`);
    // Alice may pull neither: for her the prefix names no image.
    fails(await as(alice)(['inspect', `sha256:${prefix}`]), `Error: No such image: sha256:${prefix}`);
    const none = '0'.repeat(64);
    fails(await a()(['inspect', `sha256:${none}`]), `Error: No such image: sha256:${none}`);
    expect((await http(sut.url, 'GET', `/api/v1/image-ids/${none}`)).status).toBe(404);
    expect(errorOf(await http(sut.url, 'GET', '/api/v1/image-ids/abc'))).toBe('INVALID_REQUEST');
  });

  it('inspect, history, tag, rmi and save of a missing name say No such image', async () => {
    for (const args of [['inspect'], ['history'], ['rmi'], ['tag', 'nosuch:tag', 'other:1']]) {
      const argv = args[0] === 'tag' ? args : [...args, 'nosuch:tag'];
      fails(await a()(argv), 'Error: No such image: nosuch:tag');
    }
    fails(await a()(['save', '-q', '-o', path.join(dir, 'none.tar'), 'nosuch:tag']), 'Error: No such image: nosuch:tag');
  });

  it('reindex rebuilds the ID index after its keys are flushed', async () => {
    const redis = new Redis(sut.redisUrl);
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', '*:imageid*', 'COUNT', 1000);
        // The marker that says the index is complete stays: without it the first lookup would
        // rebuild the index from Redis' revisions, and this test is about reindex from storage.
        keys.push(...batch.filter((k) => !k.endsWith(':indexed:imageids')));
        cursor = next;
      } while (cursor !== '0');
      expect(keys.some((k) => k.endsWith(':imageids'))).toBe(true);
      expect(keys.some((k) => k.endsWith(`:imageid:${id}`))).toBe(true);
      await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
    expect((await http(sut.url, 'GET', `/api/v1/image-ids/${short}`)).status).toBe(404);
    await sut.reindex();
    const r = await http(sut.url, 'GET', `/api/v1/image-ids/${short}`);
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({
      id,
      holders: [
        { repository: 'alice/app', digest: expect.stringMatching(/^sha256:/), tags: ['1'] },
        { repository: 'shared/one', digest: expect.stringMatching(/^sha256:/), tags: ['1'] },
        { repository: 'shared/two', digest: expect.stringMatching(/^sha256:/), tags: ['1'] },
      ],
    });
    expect(JSON.parse(ok(await a()(['inspect', short])).stdout)[0].RepoTags).toEqual(['alice/app:1', 'shared/one:1', 'shared/two:1']);
  });

  it('rmi -f by ID removes the tags the caller may delete and reports the rest', async () => {
    // shared/two becomes public: Alice may pull it (she now sees two tags) but not delete it.
    const vis = await http(sut.url, 'PUT', '/api/v1/repositories/visibility', JSON.stringify({ repository: 'shared/two', public: true }), {
      'content-type': 'application/json',
    });
    expect(vis.status).toBe(200);
    expect(JSON.parse(ok(await as(alice)(['inspect', short])).stdout)[0].RepoTags).toEqual(['alice/app:1', 'shared/two:1']);
    fails(
      await as(alice)(['rmi', short]),
      `Error: conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`,
    );
    const r = await as(alice)(['rmi', '-f', short]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('Untagged: alice/app:1\n');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Error: shared\/two@sha256:[0-9a-f]{64}: .*denied/)]);
    expect(JSON.parse(ok(await as(alice)(['inspect', short])).stdout)[0].RepoTags).toEqual(['shared/two:1']);
  });

  it('rmi by ID needs -f while several tags name the image; -f removes it from every repository', async () => {
    expect(JSON.parse(ok(await a()(['inspect', short])).stdout)[0].RepoTags).toEqual(['shared/one:1', 'shared/two:1']);
    fails(
      await a()(['rmi', short]),
      `Error: conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`,
    );
    expect(JSON.parse(ok(await a()(['inspect', short])).stdout)[0].RepoTags).toHaveLength(2);
    expect(ok(await a()(['rmi', '-f', short])).stdout).toBe(`Untagged: shared/one:1\nUntagged: shared/two:1\nDeleted: ${id}\n`);
    fails(await a()(['inspect', short]), `Error: No such image: ${short}`);
    fails(await a()(['inspect', 'shared/two:1']), 'Error: No such image: shared/two:1');
    expect((await http(sut.url, 'GET', `/api/v1/image-ids/${id}`)).status).toBe(404);
  });

  it('rmi by ID of an image with one tag needs no -f', async () => {
    const [, c] = collidingConfigs();
    const single = `sha256:${hexOf(c)}`;
    ok(await a()(['rmi', '-f', 'amb/x:a']));
    expect(ok(await a()(['rmi', hexOf(c).slice(0, 8)])).stdout).toBe(`Untagged: amb/x:b\nDeleted: ${single}\n`);
    fails(await a()(['inspect', 'amb/x:b']), 'Error: No such image: amb/x:b');
  });
});

function errorOf(r: { json(): { errors?: Array<{ code: string }> } }): string | undefined {
  return r.json().errors?.[0]?.code;
}
