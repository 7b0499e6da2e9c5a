// The seed's image commands end to end against a real Stevedore process: tag, untag, inspect,
// history, import, and save/load through the export/import jobs, with skopeo and umoci as the
// outside judges of the archives.
import type { HistoryEntry, ImageSummary } from '@stevedore/api-contract';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
// The e2e harness is test code of libs/server, not part of its public entry point.
import { startStevedore, type StevedoreUnderTest, type UncheckedJson } from '@stevedore/testing';
import { http, pushBlob, sha256, type Resp } from '@stevedore/testing';
import { tarOf } from './fakes';

const run = promisify(execFile);
jest.setTimeout(120_000);

let sut: StevedoreUnderTest;
let dir: string;
let policy: string;

beforeAll(async () => {
  sut = await startStevedore({ wiring: 'all' });
  dir = await mkdtemp(join(tmpdir(), 'images-e2e-'));
  policy = join(dir, 'policy.json');
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
});
afterAll(async () => {
  await sut?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const skopeo = (...args: string[]) =>
  run('skopeo', ['--policy', policy, ...args], { env: { ...process.env, TMPDIR: dir }, maxBuffer: 1 << 26 });
const host = () => sut.url.replace(/^http:\/\//, '');

function json(r: Resp, status: number): UncheckedJson {
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.body.toString().slice(0, 500)}`);
  return r.body.length ? r.json() : undefined;
}
const api = (method: string, path: string, body?: unknown) =>
  http(
    sut.url,
    method,
    path,
    body === undefined ? undefined : JSON.stringify(body),
    body === undefined ? {} : { 'content-type': 'application/json' },
  );

/** Push an image of real gzip'd tar layers (umoci and docker must be able to unpack them). */
async function pushImage(name: string, tag: string, layers: Array<Record<string, string>>, cmd = ['/bin/sh']): Promise<string> {
  const diffIds: string[] = [];
  const descs = [];
  for (const files of layers) {
    const t = await tarOf(files);
    diffIds.push(sha256(t));
    const gz = gzipSync(t);
    descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await pushBlob(sut.url, name, gz), size: gz.length });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-05-01T00:00:00Z',
      author: 'alex <452427904@qq.com>',
      config: { Cmd: cmd, Env: ['PATH=/usr/bin:/bin'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: layers.map((_, i) => ({ created: '2024-05-01T00:00:00Z', created_by: `step ${i}` })),
    }),
  );
  const c = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(sut.url, name, config), size: config.length };
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: c, layers: descs }),
  );
  json(
    await http(sut.url, 'PUT', `/v2/${name}/manifests/${tag}`, manifest, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }),
    201,
  );
  return sha256(manifest);
}

async function manifestDigest(name: string, tag: string): Promise<string | undefined> {
  const r = await http(sut.url, 'HEAD', `/v2/${name}/manifests/${tag}`, undefined, {
    accept: 'application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json',
  });
  return r.status === 200 ? (r.headers.get('docker-content-digest') ?? undefined) : undefined;
}

async function waitJob(kind: 'exports' | 'imports', id: string): Promise<UncheckedJson> {
  for (let i = 0; i < 600; i++) {
    const s = json(await api('GET', `/api/v1/${kind}/${id}`), 200);
    if (s.state === 'completed' || s.state === 'failed') return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${kind} job ${id} did not finish`);
}

async function save(references: string[], compression: 'none' | 'gzip'): Promise<{ archive: Buffer; status: UncheckedJson }> {
  const created = json(await api('POST', '/api/v1/exports', { references, compression }), 202);
  const status = await waitJob('exports', created.id);
  expect(status).toMatchObject({ state: 'completed' });
  const r = await http(sut.url, 'GET', `/api/v1/exports/${created.id}/archive`);
  expect(r.status).toBe(200);
  expect(r.headers.get('x-archive-digest')).toBe(sha256(r.body));
  return { archive: r.body, status };
}

async function load(archive: Buffer, query = ''): Promise<UncheckedJson> {
  const created = json(
    await http(sut.url, 'POST', `/api/v1/imports${query}`, archive, { 'content-type': 'application/octet-stream' }),
    202,
  );
  return waitJob('imports', created.id);
}

async function archiveEntries(archive: Buffer): Promise<string[]> {
  const names: string[] = [];
  const x = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    x.on('entry', (h, body, next) => {
      names.push(h.name);
      body.on('end', () => next());
      body.resume();
    });
    x.on('finish', resolve);
    x.on('error', reject);
  });
  x.end(archive[0] === 0x1f ? gunzipSync(archive) : archive);
  await done;
  return names;
}

describe('the seed: tag, save -o bh.gz, untag, load -i bh.gz', () => {
  it('restores both tags at the same digests', async () => {
    const digest = await pushImage(
      'bh',
      'v0.1',
      [{ 'bin/busybox': 'bb' }, { 'home/html/index.html': '<h1>bh</h1>' }],
      ['/bin/httpd', '-f', '-h', '/home/html'],
    );
    json(await api('POST', '/api/v1/images/tag', { source: 'bh:v0.1', target: 'music51555/bh:latest' }), 201);
    json(await api('POST', '/api/v1/images/tag', { source: `bh@${digest}`, target: 'music51555/bh:v0.2' }), 201);
    const inspect = json(await api('GET', '/api/v1/images/inspect?ref=music51555/bh:latest'), 200);
    expect(inspect.RepoTags).toEqual(['music51555/bh:latest', 'music51555/bh:v0.2']);
    expect(inspect.Config.Cmd).toEqual(['/bin/httpd', '-f', '-h', '/home/html']);
    expect(inspect.Author).toBe('alex <452427904@qq.com>');
    const history = json(await api('GET', '/api/v1/images/history?ref=music51555/bh:v0.2'), 200);
    expect(history.map((h: HistoryEntry) => h.CreatedBy)).toEqual(['step 1', 'step 0']);
    expect(history[1].Size).toBe((await tarOf({ 'bin/busybox': 'bb' })).length);
    const listed = json(await api('GET', '/api/v1/images?repository=music51555/bh'), 200);
    expect(listed.items.map((i: ImageSummary) => `${i.repository}:${i.tag}@${i.digest}`)).toEqual([
      `music51555/bh:latest@${digest}`,
      `music51555/bh:v0.2@${digest}`,
    ]);

    // docker save -o bh.gz music51555/bh music51555/bh:v0.2
    const { archive } = await save(['music51555/bh', 'music51555/bh:v0.2'], 'gzip');
    expect(archive[0]).toBe(0x1f);
    const path = join(dir, 'bh.gz');
    await writeFile(path, archive);

    json(await api('DELETE', '/api/v1/images?ref=music51555/bh:latest'), 200);
    json(await api('DELETE', '/api/v1/images?ref=music51555/bh:v0.2'), 200);
    expect(await manifestDigest('music51555/bh', 'latest')).toBeUndefined();
    expect(await manifestDigest('music51555/bh', 'v0.2')).toBeUndefined();

    // docker load -i bh.gz
    const loaded = await load(await readFile(path));
    expect(loaded).toMatchObject({ state: 'completed' });
    expect(loaded.result.compression).toBe('gzip');
    expect(loaded.result.loaded.sort()).toEqual(['Loaded image: music51555/bh:latest', 'Loaded image: music51555/bh:v0.2']);
    expect(await manifestDigest('music51555/bh', 'latest')).toBe(digest);
    expect(await manifestDigest('music51555/bh', 'v0.2')).toBe(digest);
  });
});

describe('tag and rmi rules over HTTP', () => {
  it('retag moves, rmi by digest needs force, unknown references are 404', async () => {
    const a = await pushImage('rules/app', 'a', [{ a: 'a' }]);
    const b = await pushImage('rules/app', 'b', [{ b: 'b' }]);
    json(await api('POST', '/api/v1/images/tag', { source: 'rules/app:a', target: 'rules/app:live' }), 201);
    const moved = json(await api('POST', '/api/v1/images/tag', { source: 'rules/app:b', target: 'rules/app:live' }), 201);
    expect(moved.previous).toBe(a);
    expect(await manifestDigest('rules/app', 'live')).toBe(b);
    const refused = await api('DELETE', `/api/v1/images?ref=rules/app@${b}`);
    expect(refused.status).toBe(409);
    expect(refused.json().errors[0].code).toBe('CONFLICT');
    const removed = json(await api('DELETE', `/api/v1/images?ref=rules/app@${b}&force=true`), 200);
    expect(removed.untagged.sort()).toEqual(['rules/app:b', 'rules/app:live']);
    expect(await manifestDigest('rules/app', 'a')).toBe(a);
    const missing = await api('GET', '/api/v1/images/inspect?ref=rules/app:nope');
    expect(missing.status).toBe(404);
    expect(missing.json().errors[0].code).toBe('MANIFEST_UNKNOWN');
  });
});

describe('access', () => {
  it('refuses anonymous callers when auth is on', async () => {
    const anon = (method: string, path: string) => fetch(sut.url + path, { method });
    expect((await anon('GET', '/api/v1/images/inspect?ref=bh:v0.1')).status).toBe(401);
    expect((await anon('DELETE', '/api/v1/images?ref=bh:v0.1')).status).toBe(401);
    expect((await anon('POST', '/api/v1/imports')).status).toBe(401);
    // Listing is open, as on Docker Hub: anonymous callers see public repositories only.
    const listed = await anon('GET', '/api/v1/images');
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { items: unknown[] }).items).toEqual([]);
  });
});

describe('docker import', () => {
  it('makes a base image from a gzip rootfs with -c changes', async () => {
    const rootfs = gzipSync(await tarOf({ 'bin/sh': '#!/bin/true', 'etc/hostname': 'imported' }));
    const q = new URLSearchParams({ ref: 'imported/base:v1', message: 'from rootfs' });
    q.append('change', 'CMD ["/bin/sh","-c","echo hi"]');
    q.append('change', 'ENV GREETING=hi');
    const r = json(await http(sut.url, 'POST', `/api/v1/images/import?${q}`, rootfs, { 'content-type': 'application/gzip' }), 201);
    expect(r.reference).toBe('imported/base:v1');
    const i = json(await api('GET', '/api/v1/images/inspect?ref=imported/base:v1'), 200);
    expect(i.Config.Cmd).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(i.Config.Env).toEqual(['GREETING=hi']);
    expect(i.Comment).toBe('from rootfs');
    expect(i.RootFS.Layers).toEqual([r.layer.diffId]);
  });
});

describe('interop with skopeo and umoci', () => {
  it('loads an archive skopeo wrote (pre-25 docker-archive layout)', async () => {
    const digest = await pushImage('skopeo/src', 'v1', [{ 'etc/a': 'a' }, { 'etc/b': 'b' }]);
    const file = join(dir, 'skopeo.tar');
    await skopeo(
      'copy',
      '--src-tls-verify=false',
      '--src-creds',
      `${sut.admin.user}:${sut.admin.password}`,
      `docker://${host()}/skopeo/src:v1`,
      `docker-archive:${file}:team/fromskopeo:v1`,
    );
    const loaded = await load(await readFile(file));
    expect(loaded).toMatchObject({
      state: 'completed',
      result: { format: 'docker-archive', loaded: ['Loaded image: team/fromskopeo:v1'] },
    });
    const i = json(await api('GET', '/api/v1/images/inspect?ref=team/fromskopeo:v1'), 200);
    const src = json(await api('GET', `/api/v1/images/inspect?ref=skopeo/src@${digest}`), 200);
    // The same image ID (config) and layers, whatever the manifest skopeo's layout leads to.
    expect(i.Id).toBe(src.Id);
    expect(i.RootFS.Layers).toEqual(src.RootFS.Layers);
  });

  it('writes an archive skopeo reads and umoci unpacks', async () => {
    await pushImage('umoci/app', 'v1', [{ 'etc/os-release': 'stevedore' }, { 'home/html/index.html': '<h1>umoci</h1>' }]);
    const { archive } = await save(['umoci/app:v1'], 'none');
    const file = join(dir, 'save.tar');
    await writeFile(file, archive);
    const layout = join(dir, 'layout');
    await skopeo('copy', `docker-archive:${file}`, `oci:${layout}:v1`);
    const bundle = join(dir, 'bundle');
    await run('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, bundle]);
    expect((await readFile(join(bundle, 'rootfs/home/html/index.html'))).toString()).toBe('<h1>umoci</h1>');
    expect((await readFile(join(bundle, 'rootfs/etc/os-release'))).toString()).toBe('stevedore');
  });
});

describe('multi-image, multi-tag round trip', () => {
  it('keeps each blob once and restores every tag', async () => {
    const base = { 'bin/sh': 'shared base layer' };
    const app = await pushImage('multi/app', 'v1', [base, { app: '1' }]);
    json(await api('POST', '/api/v1/images/tag', { source: 'multi/app:v1', target: 'multi/app:stable' }), 201);
    const db = await pushImage('multi/db', 'v9', [base, { db: '9' }]);
    const { archive, status } = await save(['multi/app', 'multi/db:v9'], 'gzip');
    const blobs = (await archiveEntries(archive)).filter((n) => /^blobs\/sha256\/[a-f0-9]{64}$/.test(n));
    expect(new Set(blobs).size).toBe(blobs.length);
    expect(blobs).toHaveLength(1 + 2 + 2 + 2); // shared base, two top layers, two configs, two manifests
    expect(status.result.blobs).toBe(7);
    for (const ref of [`multi/app@${app}`, `multi/db@${db}`]) json(await api('DELETE', `/api/v1/images?ref=${ref}&force=true`), 200);
    expect(await manifestDigest('multi/app', 'v1')).toBeUndefined();
    const loaded = await load(archive);
    expect(loaded.state).toBe('completed');
    expect(loaded.result.images).toHaveLength(2);
    expect(await manifestDigest('multi/app', 'v1')).toBe(app);
    expect(await manifestDigest('multi/app', 'stable')).toBe(app);
    expect(await manifestDigest('multi/db', 'v9')).toBe(db);
  });
});

describe('bad archives are refused and nothing is tagged', () => {
  let good: Buffer;
  let entries: Map<string, Buffer>;
  let layerPath: string;
  beforeAll(async () => {
    await pushImage('badsrc/app', 'v1', [{ a: 'a' }, { b: 'b' }]);
    good = (await save(['badsrc/app:v1'], 'none')).archive;
    entries = new Map();
    const x = tar.extract();
    const done = new Promise<void>((resolve, reject) => {
      x.on('entry', (h, body, next) => {
        const chunks: Buffer[] = [];
        body.on('data', (c: unknown) => chunks.push(c as Buffer));
        body.on('end', () => {
          entries.set(h.name, Buffer.concat(chunks));
          next();
        });
      });
      x.on('finish', resolve);
      x.on('error', reject);
    });
    x.end(good);
    await done;
    const m = JSON.parse(String(entries.get('manifest.json')))[0];
    layerPath = m.Layers[1];
    // Rename the image so what a refused load would tag is unambiguous.
    entries.set('manifest.json', Buffer.from(JSON.stringify([{ ...m, RepoTags: ['refused/app:v1'] }])));
    entries.delete('index.json');
  });

  async function pack(files: Map<string, Buffer>): Promise<Buffer> {
    const p = tar.pack();
    for (const [name, body] of files) p.entry({ name, mtime: new Date(0) }, body);
    p.finalize();
    const chunks: Buffer[] = [];
    // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Readable types.
    for await (const c of p as unknown as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
  }

  // Every row has four cells: jest hands a `done` callback to a test that declares more parameters than its row has.
  const cases: Array<[string, () => Promise<Buffer>, string, string]> = [
    ['a path escaping the archive', () => pack(new Map([['../../evil', Buffer.from('x')], ...entries])), 'INVALID_REQUEST', ''],
    ['a digest mismatch', async () => pack(new Map([...entries, [layerPath, gzipSync(await tarOf({ b: 'evil' }))]])), 'DIGEST_INVALID', ''],
    [
      'a missing blob',
      async () => {
        const m = new Map(entries);
        m.delete(layerPath);
        return pack(m);
      },
      'MANIFEST_INVALID',
      '',
    ],
    ['truncated input', async () => gzipSync(await pack(entries)).subarray(0, 300), 'INVALID_REQUEST', ''],
    ['an archive past the size limit', () => pack(entries), 'PAYLOAD_TOO_LARGE', '?maxBytes=2048'],
  ];

  it.each(cases)('%s', async (_what, make, code, query) => {
    const body = await make();
    const created = await http(sut.url, 'POST', `/api/v1/imports${query}`, body, { 'content-type': 'application/x-tar' });
    if (created.status === 202) {
      const s = await waitJob('imports', created.json().id);
      expect(s.state).toBe('failed');
      expect(s.error.code).toBe(code);
    } else {
      // Refused at upload (the declared size is past the limit).
      expect(created.json().errors[0].code).toBe(code);
    }
    expect(await manifestDigest('refused/app', 'v1')).toBeUndefined();
    const tags = await http(sut.url, 'GET', '/v2/refused/app/tags/list');
    expect(tags.status === 404 || (tags.json().tags ?? []).length === 0).toBe(true);
  });

  it('the unmodified archive loads (the cases above differ only in their defect)', async () => {
    const s = await load(await pack(entries));
    expect(s.state).toBe('completed');
    expect(await manifestDigest('refused/app', 'v1')).toBeDefined();
  });
});
