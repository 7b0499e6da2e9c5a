// The seed's `docker run` + `docker commit` end to end on one all-in-one process: containers over a
// base image pushed with skopeo, file operations, and commit jobs, with skopeo and umoci as judges.
import { existsSync, readFileSync, lstatSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { Readable } from 'node:stream';
import { http, policyFile, startStevedore, type StevedoreUnderTest, type UncheckedJson } from '@stevedore/testing';
import { Api, baseLayout, expectStatus, host, pushLayout, run, tarOf } from './helpers';

jest.setTimeout(180_000);

let sut: StevedoreUnderTest;
let api: Api;
let dir: string;
let policy: string;

beforeAll(async () => {
  sut = await startStevedore({ wiring: (process.env.COMMIT_E2E_WIRING as 'split' | undefined) ?? 'all', commitWorkers: 1 });
  api = new Api(sut);
  dir = await mkdtemp(join(tmpdir(), 'commit-e2e-'));
  policy = policyFile(dir);
  baseLayout(join(dir, 'layout'));
  await pushLayout(sut, policy, join(dir, 'layout'), 'base', 'library/busybox');
});
afterAll(async () => {
  if (process.env.SHOW_LOGS) console.log(sut?.logs());
  await sut?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const skopeo = (...args: string[]) =>
  run('skopeo', ['--policy', policy, ...args], { env: { ...process.env, TMPDIR: dir }, maxBuffer: 1 << 26 }).then((r) => r.stdout);
const creds = () => `${sut.admin.user}:${sut.admin.password}`;

async function unpack(ref: string, name: string): Promise<string> {
  const layout = join(dir, `oci-${name}`);
  await skopeo('copy', '--src-tls-verify=false', '--src-creds', creds(), `docker://${host(sut)}/${ref}`, `oci:${layout}:${name}`);
  const bundle = join(dir, `bundle-${name}`);
  await run('umoci', ['unpack', '--rootless', '--image', `${layout}:${name}`, bundle]);
  return join(bundle, 'rootfs');
}

async function layerEntries(name: string, digest: string): Promise<string[]> {
  const blob = expectStatus(await http(sut.url, 'GET', `/v2/${name}/blobs/${digest}`), 200) as Buffer;
  const names: string[] = [];
  const extract = tar.extract();
  extract.on('entry', (h, s, next) => {
    names.push(h.name);
    s.resume();
    s.on('end', next);
  });
  await new Promise((resolve, reject) => {
    extract.on('finish', () => resolve(undefined));
    extract.on('error', reject);
    Readable.from([gunzipSync(blob)]).pipe(extract);
  });
  return names;
}

async function manifestOf(name: string, ref: string): Promise<UncheckedJson> {
  const r = await http(sut.url, 'GET', `/v2/${name}/manifests/${ref}`, undefined, { accept: 'application/vnd.oci.image.manifest.v1+json' });
  expectStatus(r, 200);
  return JSON.parse(r.body.toString());
}

describe("the seed's docker commit", () => {
  let result: UncheckedJson;
  let containerId: string;

  it('creates a container, writes /home/html/index.html and commits it as busy_httpd:v0.2', async () => {
    containerId = await api.create('library/busybox:base');
    await api.op(containerId, { op: 'mkdir', path: '/home/html' });
    await api.write(containerId, '/home/html/index.html', '<h1>busybox httpd server</h1>\n');
    const diff = expectStatus(await api.call('GET', `/api/v1/containers/${containerId}/changes`), 200);
    expect(diff.changes).toEqual([
      { path: '/home', kind: 'C' },
      { path: '/home/html', kind: 'A' },
      { path: '/home/html/index.html', kind: 'A' },
    ]);
    const job = await api.commit({
      container: containerId,
      reference: 'busy_httpd:v0.2',
      author: 'alex <452427904@qq.com>',
      changes: ['CMD ["/bin/httpd","-f","-h","/home/html"]'],
      pause: true,
    });
    const done = await api.wait(job.id);
    expect(done.state).toBe('completed');
    result = done.result;
    expect(result.reference).toBe('busy_httpd:v0.2');
    expect(result.digest).toMatch(/^sha256:/);
    // After the commit the container runs again (the pause is restored).
    expect(expectStatus(await api.call('GET', `/api/v1/containers/${containerId}`), 200).state).toBe('running');
  });

  it('holds the base layers plus one layer with exactly the new files, and the config says so', async () => {
    const base = await manifestOf('library/busybox', 'base');
    const m = await manifestOf('busy_httpd', 'v0.2');
    expect(m.layers.slice(0, 2).map((l: UncheckedJson) => l.digest)).toEqual(base.layers.map((l: UncheckedJson) => l.digest));
    expect(m.layers).toHaveLength(3);
    expect(m.layers[2].digest).toBe(result.layer.digest);
    expect(await layerEntries('busy_httpd', m.layers[2].digest)).toEqual(['home/', 'home/html/', 'home/html/index.html']);
    const cfg = JSON.parse((expectStatus(await http(sut.url, 'GET', `/v2/busy_httpd/blobs/${m.config.digest}`), 200) as Buffer).toString());
    expect(cfg.author).toBe('alex <452427904@qq.com>');
    expect(cfg.config.Cmd).toEqual(['/bin/httpd', '-f', '-h', '/home/html']);
    expect(cfg.config.Env).toEqual(['PATH=/usr/sbin:/usr/bin:/sbin:/bin']);
    expect(cfg.rootfs.diff_ids).toHaveLength(3);
    expect(cfg.rootfs.diff_ids[2]).toBe(result.layer.diffId);
    expect(cfg.history).toHaveLength(3);
    expect(cfg.history[2]).toMatchObject({ author: 'alex <452427904@qq.com>' });
    expect(cfg.history[2].empty_layer).toBeUndefined();
  });

  it('skopeo inspect --config shows the same Author and Cmd', async () => {
    const out = JSON.parse(
      await skopeo('inspect', '--tls-verify=false', '--creds', creds(), '--config', `docker://${host(sut)}/busy_httpd:v0.2`),
    );
    expect(out.author).toBe('alex <452427904@qq.com>');
    expect(out.config.Cmd).toEqual(['/bin/httpd', '-f', '-h', '/home/html']);
  });

  it('umoci unpacks the file and the base files', async () => {
    const rootfs = await unpack('busy_httpd:v0.2', 'httpd');
    expect(readFileSync(join(rootfs, 'home/html/index.html'), 'utf8')).toBe('<h1>busybox httpd server</h1>\n');
    expect(readFileSync(join(rootfs, 'bin/httpd'), 'utf8')).toContain('httpd placeholder');
    expect(readFileSync(join(rootfs, 'etc/motd'), 'utf8')).toBe('welcome\n');
  });

  it('gives the same job (and image) for the same container state and options', async () => {
    const again = await api.commit({
      container: containerId,
      reference: 'busy_httpd:v0.2',
      author: 'alex <452427904@qq.com>',
      changes: ['CMD ["/bin/httpd","-f","-h","/home/html"]'],
    });
    expect(again.state).toBe('completed');
    expect(again.result.digest).toBe(result.digest);
    expect(expectStatus(await api.call('GET', `/api/v1/containers/${containerId}`), 200).state).toBe('running');
  });
});

describe('whiteouts and opaque directories', () => {
  it('deletes of lower files and a replaced directory are honoured by umoci', async () => {
    const id = await api.create('library/busybox:base');
    expect((await api.call('DELETE', `/api/v1/containers/${id}/files?path=/etc/motd`)).status).toBe(204);
    expect((await api.call('DELETE', `/api/v1/containers/${id}/files?path=/var/www&recursive=1`)).status).toBe(204);
    await api.op(id, { op: 'mkdir', path: '/var/www' });
    await api.write(id, '/var/www/new.html', 'new\n');
    await api.op(id, { op: 'symlink', path: '/bin/busybox', target: 'sh' });
    await api.op(id, { op: 'chmod', path: '/bin/httpd', mode: '0755' });
    // The merged view shows what the container sees.
    const ls = expectStatus(await api.call('GET', `/api/v1/containers/${id}/dir?path=/var/www`), 200);
    expect(ls.entries.map((e: UncheckedJson) => e.path)).toEqual(['var/www/new.html']);
    expect((await api.call('GET', `/api/v1/containers/${id}/files?path=/etc/motd`)).status).toBe(404);
    expect((expectStatus(await api.call('GET', `/api/v1/containers/${id}/files?path=/etc/passwd`), 200) as Buffer).toString()).toContain(
      'root:x',
    );
    const diff = expectStatus(await api.call('GET', `/api/v1/containers/${id}/changes`), 200).changes;
    expect(diff).toEqual(
      expect.arrayContaining([
        { path: '/etc/motd', kind: 'D' },
        { path: '/var/www/index.html', kind: 'D' },
        { path: '/var/www/new.html', kind: 'A' },
        { path: '/bin/busybox', kind: 'A' },
        { path: '/bin/httpd', kind: 'C' },
      ]),
    );
    const done = await api.wait((await api.commit({ container: id, reference: 'whiteouts:1' })).id);
    expect(done.state).toBe('completed');
    const m = await manifestOf('whiteouts', '1');
    const names = await layerEntries('whiteouts', m.layers[2].digest);
    expect(names).toEqual(expect.arrayContaining(['etc/.wh.motd', 'var/www/.wh..wh..opq', 'var/www/new.html']));
    const rootfs = await unpack('whiteouts:1', 'wh');
    expect(existsSync(join(rootfs, 'etc/motd'))).toBe(false);
    expect(existsSync(join(rootfs, 'etc/passwd'))).toBe(true);
    expect(existsSync(join(rootfs, 'var/www/index.html'))).toBe(false);
    expect(existsSync(join(rootfs, 'var/www/css'))).toBe(false);
    expect(readFileSync(join(rootfs, 'var/www/new.html'), 'utf8')).toBe('new\n');
    expect(lstatSync(join(rootfs, 'bin/busybox')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(rootfs, 'bin/busybox'))).toBe('sh');
    expect(lstatSync(join(rootfs, 'bin/httpd')).mode & 0o777).toBe(0o755);
  });

  it('an uploaded upper dir (overlay whiteouts) and a rootfs snapshot give the same changes', async () => {
    const a = await api.create('library/busybox:base');
    const upper = await tarOf([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.motd', body: '' },
      { name: 'srv/', type: 'directory' },
      { name: 'srv/app.txt', body: 'app\n' },
    ]);
    expect(
      expectStatus(await api.raw('PUT', `/api/v1/containers/${a}/archive?mode=overlay`, upper, 'application/x-tar'), 200).entries,
    ).toBe(4);
    const da = expectStatus(await api.call('GET', `/api/v1/containers/${a}/changes`), 200).changes;
    expect(da).toEqual(
      expect.arrayContaining([
        { path: '/etc/motd', kind: 'D' },
        { path: '/srv/app.txt', kind: 'A' },
      ]),
    );
    expect(da.find((c: UncheckedJson) => c.path === '/etc/passwd')).toBeUndefined();

    // The same filesystem as a whole rootfs: diffed against the image, it gives the same changes.
    const b = await api.create('library/busybox:base');
    const rootfs = await tarOf([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/sh', body: '#!/bin/sh placeholder\n' },
      { name: 'bin/httpd', body: '#!/bin/sh httpd placeholder\n' },
      { name: 'etc/', type: 'directory' },
      { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\n' },
      { name: 'home/', type: 'directory' },
      { name: 'home/.keep', body: '' },
      { name: 'srv/', type: 'directory' },
      { name: 'srv/app.txt', body: 'app\n' },
      { name: 'var/', type: 'directory' },
      { name: 'var/www/', type: 'directory' },
      { name: 'var/www/index.html', body: '<h1>default</h1>\n' },
      { name: 'var/www/css/', type: 'directory' },
      { name: 'var/www/css/site.css', body: 'body{}\n' },
    ]);
    expectStatus(await api.raw('PUT', `/api/v1/containers/${b}/archive?mode=rootfs`, rootfs, 'application/x-tar'), 200);
    const db = expectStatus(await api.call('GET', `/api/v1/containers/${b}/changes`), 200).changes;
    expect(db).toEqual(
      expect.arrayContaining([
        { path: '/etc/motd', kind: 'D' },
        { path: '/srv/app.txt', kind: 'A' },
      ]),
    );
    expect(db.filter((c: UncheckedJson) => c.kind !== 'C')).toEqual(da.filter((c: UncheckedJson) => c.kind !== 'C'));
    const done = await api.wait((await api.commit({ container: b, reference: 'snapshot:1' })).id);
    const root = await unpack('snapshot:1', 'snap');
    expect(existsSync(join(root, 'etc/motd'))).toBe(false);
    expect(readFileSync(join(root, 'srv/app.txt'), 'utf8')).toBe('app\n');
    expect(done.state).toBe('completed');
  });
});

describe('pause', () => {
  it('refuses writes while paused, with a clear error, and accepts them after unpause', async () => {
    const id = await api.create('library/busybox:base');
    expectStatus(await api.call('POST', `/api/v1/containers/${id}/pause`), 200);
    const r = await api.raw('PUT', `/api/v1/containers/${id}/files?path=/x`, Buffer.from('x'));
    expect(r.status).toBe(409);
    expect(r.json().errors[0].message).toMatch(/paused/);
    expectStatus(await api.call('POST', `/api/v1/containers/${id}/unpause`), 200);
    await api.write(id, '/x', 'x');
  });

  it('refuses writes during a commit with pause; restores the state after', async () => {
    const id = await api.create('library/busybox:base');
    // A larger layer keeps the commit busy long enough to try a write.
    await api.write(id, '/big', Buffer.alloc(20 * 1024 * 1024, 7));
    const job = await api.commit({ container: id, reference: 'paused:1', pause: true });
    const r = await api.raw('PUT', `/api/v1/containers/${id}/files?path=/during`, Buffer.from('x'));
    expect(r.status).toBe(409);
    expect(r.json().errors[0].message).toMatch(/being committed/);
    expect((await api.wait(job.id)).state).toBe('completed');
    await api.write(id, '/after', 'ok');
    // 20 MB is 20 gzip members (pigz-style); umoci reads them as one stream.
    const root = await unpack('paused:1', 'paused');
    expect(readFileSync(join(root, 'big')).equals(Buffer.alloc(20 * 1024 * 1024, 7))).toBe(true);
  });

  it('without pause the commit holds exactly the changes made before it started', async () => {
    const id = await api.create('library/busybox:base');
    await api.write(id, '/before', 'before');
    const job = await api.commit({ container: id, reference: 'nopause:1', pause: false });
    await api.write(id, '/after', 'after');
    const done = await api.wait(job.id);
    expect(done.state).toBe('completed');
    const m = await manifestOf('nopause', '1');
    expect(await layerEntries('nopause', m.layers[2].digest)).toEqual(['before']);
  });
});

describe('an empty read-write layer', () => {
  it('adds an empty_layer history entry and no layer', async () => {
    const id = await api.create('library/busybox:base');
    const done = await api.wait(
      (await api.commit({ container: id, reference: 'empty:1', message: 'nothing changed', changes: ['ENV A=1'] })).id,
    );
    expect(done.state).toBe('completed');
    expect(done.result.layer).toBeUndefined();
    const m = await manifestOf('empty', '1');
    expect(m.layers).toHaveLength(2);
    const cfg = JSON.parse((expectStatus(await http(sut.url, 'GET', `/v2/empty/blobs/${m.config.digest}`), 200) as Buffer).toString());
    expect(cfg.history.at(-1)).toMatchObject({ empty_layer: true, comment: 'nothing changed' });
    expect(cfg.config.Env).toContain('A=1');
  });
});

describe('job status and events', () => {
  it('streams progress and the result as server-sent events', async () => {
    const id = await api.create('library/busybox:base');
    for (let i = 0; i < 20; i++) await api.write(id, `/f${i}`, `file ${i}`);
    const job = await api.commit({ container: id, reference: 'sse:1' });
    const r = await fetch(`${sut.url}/api/v1/jobs/${job.id}/events`, {
      headers: { authorization: 'Basic ' + Buffer.from(creds()).toString('base64') },
    });
    expect(r.headers.get('content-type')).toContain('text/event-stream');
    const text = await r.text();
    expect(text).toMatch(/^event: status/);
    expect(text).toMatch(/event: completed\ndata: .*"digest":"sha256:/);
  });

  it('cancels a commit: the tag never moves and the container runs again', async () => {
    const id = await api.create('library/busybox:base');
    for (let i = 0; i < 30; i++) await api.write(id, `/big${i}`, Buffer.alloc(2 * 1024 * 1024, i));
    const job = await api.commit({ container: id, reference: 'cancelled:1' });
    const c = expectStatus(await api.call('DELETE', `/api/v1/jobs/${job.id}`), 202);
    if (c.state === 'removed') {
      expect((await api.call('GET', `/api/v1/jobs/${job.id}`)).status).toBe(404);
    } else {
      const done = await api.wait(job.id);
      expect(done.state).toBe('failed');
      expect(done.error.message).toMatch(/cancelled/);
    }
    expect((await http(sut.url, 'GET', '/v2/cancelled/manifests/1')).status).toBe(404);
    expect(expectStatus(await api.call('GET', `/api/v1/containers/${id}`), 200).state).toBe('running');
  });

  it('cancels a batch at once or answers 409 while one of its commits runs, never a 5xx', async () => {
    const specs = [];
    for (let n = 0; n < 3; n++) {
      const id = await api.create('library/busybox:base');
      for (let i = 0; i < 10; i++) await api.write(id, `/big${i}`, Buffer.alloc(2 * 1024 * 1024, i + n));
      specs.push({ container: id, reference: `batchcancel:${n}` });
    }
    const batch = expectStatus(await api.call('POST', '/api/v1/commits:batch', { commits: specs }), 202);
    // Wait until a commit of the batch runs, so the parent is locked by its child.
    for (let i = 0; i < 100; i++) {
      const st = expectStatus(await api.call('GET', `/api/v1/jobs/${batch.id}`), 200);
      if (st.state === 'waiting-children' || st.state === 'completed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await api.call('DELETE', `/api/v1/jobs/${batch.id}`);
    expect([202, 409]).toContain(r.status);
    if (r.status === 409) expect(r.json().errors[0].code).toBe('CONFLICT');
    await api.wait(batch.id).catch(() => undefined);
  });

  it('answers 404 for an unknown job', async () => {
    expect((await api.call('GET', `/api/v1/jobs/commit-${'0'.repeat(40)}`)).status).toBe(404);
  });
});

describe('bad input', () => {
  let id: string;
  beforeAll(async () => {
    id = await api.create('library/busybox:base');
  });

  it.each([
    ['..', [{ name: '../escape', body: 'x' }], 'parent-traversal'],
    ['an absolute path', [{ name: '/etc/evil', body: 'x' }], 'absolute-path'],
    ['an escaping symlink', [{ name: 'link', type: 'symlink' as const, linkname: '../../../etc' }], 'symlink-escape'],
    [
      'a write through a symlink',
      [
        { name: 'l', type: 'symlink' as const, linkname: '/etc' },
        { name: 'l/passwd', body: 'x' },
      ],
      'through-symlink',
    ],
  ])('refuses a tar with %s', async (_what, entries, reason) => {
    const r = await api.raw('PUT', `/api/v1/containers/${id}/archive`, await tarOf(entries), 'application/x-tar');
    expect(r.status).toBe(400);
    expect(r.json().errors[0].detail.reason).toBe(reason);
    expect(expectStatus(await api.call('GET', `/api/v1/containers/${id}/changes`), 200).changes).toEqual([]);
  });

  it('refuses file paths that leave the root', async () => {
    const r = await api.raw('PUT', `/api/v1/containers/${id}/files?path=${encodeURIComponent('/../x')}`, Buffer.from('x'));
    expect(r.status).toBe(400);
  });

  it('a commit of a missing container is a clear 404', async () => {
    const r = await api.call('POST', '/api/v1/commits', { container: 'f'.repeat(64), reference: 'x:1' });
    expect(r.status).toBe(404);
    expect(r.json().errors[0].message).toMatch(/no such container/);
  });

  it.each(['UPPER:1', 'ok:bad tag', 'ok@sha256:abc', 'ok:' + 'x'.repeat(200)])(
    'a commit onto the invalid reference %s is a clear 400',
    async (reference) => {
      const r = await api.call('POST', '/api/v1/commits', { container: id, reference });
      expect(r.status).toBe(400);
      expect(r.json().errors[0].code).toMatch(/NAME_INVALID|TAG_INVALID|DIGEST_INVALID/);
    },
  );

  it('an unsupported -c change is refused before a job exists', async () => {
    const r = await api.call('POST', '/api/v1/commits', { container: id, reference: 'ok:1', changes: ['RUN rm -rf /'] });
    expect(r.status).toBe(400);
  });

  it('refuses callers without credentials', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/containers'],
      ['POST', '/api/v1/commits'],
      ['GET', `/api/v1/jobs/commit-${'0'.repeat(40)}`],
    ]) {
      const r = await fetch(sut.url + path, {
        method,
        headers: { 'content-type': 'application/json' },
        body: method === 'POST' ? JSON.stringify({ container: id, reference: 'x:1' }) : undefined,
      });
      expect(r.status).toBe(401);
    }
  });

  it('create from a missing image is a 404', async () => {
    expect((await api.call('POST', '/api/v1/containers', { image: 'nothing/here:1' })).status).toBe(404);
  });
});

describe('after Redis is lost', () => {
  it('containers come back from their durable copies in storage', async () => {
    const id = await api.create('library/busybox:base');
    await api.write(id, '/kept', 'still here\n');
    await sut.stopRedis();
    await sut.startRedis();
    let listed: UncheckedJson;
    for (let i = 0; i < 100; i++) {
      const r = await api.call('GET', '/api/v1/containers');
      if (r.status === 200) {
        listed = r.json();
        break;
      }
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(listed.containers.map((c: UncheckedJson) => c.id)).toContain(id);
    expect((expectStatus(await api.call('GET', `/api/v1/containers/${id}/files?path=/kept`), 200) as Buffer).toString()).toBe(
      'still here\n',
    );
    expect(expectStatus(await api.call('GET', `/api/v1/containers/${id}/changes`), 200).changes).toEqual([{ path: '/kept', kind: 'A' }]);
  });
});
