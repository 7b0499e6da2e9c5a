// podman and buildah against Stevedore with token auth, daemonless as root: each client store is
// private (vfs under a temp dir, its own registries.conf, containers.conf, storage.conf and auth
// file), so nothing reads or writes the machine's container storage. Pulls go into a fresh store, so
// every byte they show came from the platform. Containers are created and copied from, never run.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildLayout, http, makeLayer, policyFile, sha256, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';

const run = promisify(execFile);
jest.setTimeout(180_000);

const CLI = path.resolve(__dirname, '../../../tools/cli/bin/stevedore.js');
const DEPS = 'tools/scripts/deps.sh';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program; resolves with its exit code and output whatever the code (tests check it). */
function exec(file: string, args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.end(input);
  });
}

function ok(what: string, r: Result): string {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** The client binaries must be installed: CI runs deps.sh first, so a missing one is a failure. */
async function requireClient(bin: string): Promise<void> {
  try {
    await run(bin, ['--version']);
  } catch (e) {
    throw new Error(`${bin} is not installed (${(e as Error).message}); run ${DEPS} as root, which installs podman and buildah`);
  }
}

interface Store {
  podman(...args: string[]): Promise<string>;
  podmanResult(args: string[], input?: string): Promise<Result>;
  buildah(...args: string[]): Promise<string>;
}

describe('podman and buildah against Stevedore', () => {
  let s: StevedoreUnderTest;
  let dir: string;
  let host: string;
  let clientEnv: NodeJS.ProcessEnv;
  let authFile: string;
  let policy: string;
  let stores = 0;

  /** A fresh podman/buildah store (vfs, private root and runroot) sharing the suite's configuration. */
  const newStore = (): Store => {
    const base = path.join(dir, `store-${++stores}`);
    const storage = ['--root', path.join(base, 'root'), '--runroot', path.join(base, 'run'), '--storage-driver', 'vfs'];
    const podmanResult = (args: string[], input?: string) => exec('podman', [...storage, ...args], clientEnv, input);
    return {
      podmanResult,
      podman: async (...args) => ok(`podman ${args.join(' ')}`, await podmanResult(args)),
      buildah: async (...args) => ok(`buildah ${args.join(' ')}`, await exec('buildah', [...storage, ...args], clientEnv)),
    };
  };

  const cliEnv = () => ({ ...process.env, STEVEDORE_HOST: s.url, STEVEDORE_CONFIG: path.join(dir, 'stevedore', 'config.json') });
  const stevedore = async (args: string[], input?: string) =>
    ok(`stevedore ${args.join(' ')}`, await exec(process.execPath, [CLI, ...args], cliEnv(), input));
  const skopeo = async (...args: string[]) =>
    ok(
      `skopeo ${args.join(' ')}`,
      await exec('skopeo', ['--policy', policy, args[0], '--tls-verify=false', '--authfile', authFile, ...args.slice(1)], clientEnv),
    );

  /** podman's view of a pulled image: ID (config digest), diff IDs, config. */
  const podmanInspect = async (store: Store, ref: string) => {
    const [img] = JSON.parse(await store.podman('image', 'inspect', ref));
    return img as { Id: string; Digest: string; RootFS: { Layers: string[] }; Author: string; Config: { Cmd?: string[] } };
  };

  /** Bytes of one file of an image, by creating a container (never started) and copying out of it. */
  const fileOf = async (store: Store, ref: string, file: string): Promise<Buffer> => {
    const name = `c${stores}-${path.basename(file).replace(/[^a-z0-9]/gi, '')}`;
    await store.podman('create', '--name', name, '--network', 'none', ref, '/none');
    const out = path.join(dir, `${name}.out`);
    await store.podman('cp', `${name}:${file}`, out);
    await store.podman('rm', name);
    return readFileSync(out);
  };

  beforeAll(async () => {
    await requireClient('podman');
    await requireClient('buildah');
    s = await startStevedore();
    host = new URL(s.url).host;
    dir = mkdtempSync(path.join(os.tmpdir(), 'podman-e2e-'));
    policy = policyFile(dir);
    authFile = path.join(dir, 'auth.json');
    writeFileSync(authFile, '{"auths":{}}');
    const conf = (name: string, text: string) => {
      writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    // Loopback registry over plain http; no search registries, so no short name reaches docker.io.
    const registries = conf('registries.conf', `unqualified-search-registries = []\n[[registry]]\nlocation = "${host}"\ninsecure = true\n`);
    // No systemd here: cgroupfs and no journald events; nothing runs, so no network backend is needed.
    const containers = conf('containers.conf', '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "none"\n');
    // Each store passes its own --root and --runroot; these defaults only keep podman from refusing to start.
    const storage = conf(
      'storage.conf',
      `[storage]\ndriver = "vfs"\ngraphroot = "${path.join(dir, 'default-root')}"\nrunroot = "${path.join(dir, 'default-run')}"\n`,
    );
    clientEnv = {
      ...process.env,
      TMPDIR: dir,
      CONTAINERS_REGISTRIES_CONF: registries,
      CONTAINERS_CONF: containers,
      CONTAINERS_STORAGE_CONF: storage,
      REGISTRY_AUTH_FILE: authFile,
    };
    mkdirSync(path.join(dir, 'stevedore'));
    await stevedore(['login', '-u', s.admin.user, '--password-stdin'], s.admin.password + '\n');
  });
  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await s?.stop();
  });

  it('podman login gets a token through the Bearer challenge; a wrong password is refused', async () => {
    const challenge = await fetch(`${s.url}/v2/`);
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+\/auth\/token"/);
    const store = newStore();
    const wrong = await store.podmanResult(
      ['login', '--tls-verify=false', '-u', s.admin.user, '--password-stdin', host],
      'not-the-password\n',
    );
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/401|unauthorized|invalid username\/password/i);
    expect(JSON.parse(readFileSync(authFile, 'utf8')).auths).toEqual({});
    const good = await store.podmanResult(
      ['login', '--tls-verify=false', '-u', s.admin.user, '--password-stdin', host],
      s.admin.password + '\n',
    );
    expect(ok('podman login', good)).toContain('Login Succeeded');
    const saved = JSON.parse(readFileSync(authFile, 'utf8')).auths[host];
    expect(Buffer.from(saved.auth, 'base64').toString()).toBe(`${s.admin.user}:${s.admin.password}`);
  });
  it('podman pushes a multi-layer image and a fresh store pulls it back: same image ID, diff IDs and file bytes', async () => {
    const tool = Buffer.alloc(300_000, 7);
    const src = buildLayout(
      path.join(dir, 'multi-src'),
      'v1',
      [{ 'etc/os-release': 'stevedore\n' }, { 'usr/bin/tool': tool }, { 'home/html/index.html': '<h1>hi</h1>\n' }],
      { Cmd: ['/usr/bin/tool'] },
    );
    // An oci-archive made here (there is no network to docker.io): podman reads it as a real client would.
    const archive = path.join(dir, 'multi.oci.tar');
    await run('tar', ['-C', src.dir, '-cf', archive, '.']);
    const pusher = newStore();
    const id = (await pusher.podman('pull', '-q', `oci-archive:${archive}`)).trim();
    const local = await podmanInspect(pusher, id);
    expect(local.RootFS.Layers).toEqual(src.diffIds);
    const ref = `${host}/podman/multi:v1`;
    await pusher.podman('tag', id, ref);
    await pusher.podman('push', '--tls-verify=false', ref);

    const manifest = JSON.parse(await skopeo('inspect', '--raw', `docker://${ref}`));
    expect(manifest.layers).toHaveLength(3);
    // podman's image ID is the config digest without its algorithm.
    expect(manifest.config.digest).toBe(`sha256:${local.Id}`);

    const puller = newStore();
    await puller.podman('pull', '--tls-verify=false', ref);
    const pulled = await podmanInspect(puller, ref);
    expect(`sha256:${pulled.Id}`).toBe(manifest.config.digest);
    expect(pulled.RootFS.Layers).toEqual(src.diffIds);
    expect(pulled.Config.Cmd).toEqual(['/usr/bin/tool']);
    const head = await http(s.url, 'HEAD', `/v2/podman/multi/manifests/v1`, undefined, { accept: manifest.mediaType });
    expect(pulled.Digest).toBe(head.headers.get('docker-content-digest'));
    expect(sha256(await fileOf(puller, ref, '/usr/bin/tool'))).toBe(sha256(tool));
    expect((await fileOf(puller, ref, '/home/html/index.html')).toString()).toBe('<h1>hi</h1>\n');
  });
  describe('an image buildah builds from scratch', () => {
    let builder: Store;
    let imageId: string;
    const hello = Buffer.from('#!/bin/hello\n'.repeat(1000));
    beforeAll(async () => {
      builder = newStore();
      const ctx = path.join(dir, 'ctx');
      mkdirSync(ctx);
      writeFileSync(path.join(ctx, 'hello'), hello);
      writeFileSync(path.join(ctx, 'motd'), 'built by buildah\n');
      // Two commits, so the image has two layers: the base's and the one the second copy makes.
      const first = (await builder.buildah('from', 'scratch')).trim();
      await builder.buildah('copy', first, path.join(ctx, 'hello'), '/bin/hello');
      await builder.buildah('commit', '-q', first, 'hello-base');
      const second = (await builder.buildah('from', 'hello-base')).trim();
      await builder.buildah('copy', second, path.join(ctx, 'motd'), '/etc/motd');
      await builder.buildah('config', '--cmd', '["/bin/hello","--loud"]', '--author', 'Ada <ada@example.com>', second);
      imageId = `sha256:${(await builder.buildah('commit', '-q', second, 'hello')).trim()}`;
    });

    for (const [format, tag, mediaType] of [
      ['oci', 'oci', 'application/vnd.oci.image.manifest.v1+json'],
      ['v2s2', 'docker', 'application/vnd.docker.distribution.manifest.v2+json'],
    ]) {
      it(`buildah push --format ${format}: stevedore inspect and skopeo inspect agree on layers, config digest, Cmd and Author`, async () => {
        const ref = `${host}/buildah/hello:${tag}`;
        await builder.buildah('push', '--tls-verify=false', '--format', format, 'hello', `docker://${ref}`);
        const [mine] = JSON.parse(await stevedore(['inspect', `buildah/hello:${tag}`]));
        const raw = JSON.parse(await skopeo('inspect', '--raw', `docker://${ref}`));
        const theirs = JSON.parse(await skopeo('inspect', `docker://${ref}`));
        const config = JSON.parse(await skopeo('inspect', '--config', `docker://${ref}`));

        expect(raw.mediaType).toBe(mediaType);
        expect(raw.config.digest).toBe(imageId);
        expect(mine.Id).toBe(imageId);
        expect(mine.Descriptor).toMatchObject({ digest: theirs.Digest, mediaType });
        expect(mine.RepoDigests).toContain(`buildah/hello@${theirs.Digest}`);
        expect(theirs.Layers).toEqual(raw.layers.map((l: { digest: string }) => l.digest));
        expect(theirs.Layers).toHaveLength(2);
        expect(mine.RootFS.Layers).toEqual(config.rootfs.diff_ids);
        expect(mine.RootFS.Layers).toHaveLength(2);
        expect(mine.Config.Cmd).toEqual(['/bin/hello', '--loud']);
        expect(config.config.Cmd).toEqual(mine.Config.Cmd);
        expect(mine.Author).toBe('Ada <ada@example.com>');
        expect(config.author).toBe(mine.Author);
        expect(mine.Architecture).toBe(theirs.Architecture);
        expect(mine.Os).toBe(theirs.Os);
      });
    }

    for (const format of ['docker-archive', 'oci-archive']) {
      it(`podman pulls what stevedore load restored from podman save --format ${format}`, async () => {
        // Named for this registry, as a podman user names an image meant for it (a short name would
        // be saved as podman's localhost/loaded/hello, and loaded under that repository).
        const name = `loaded/hello:${format}`;
        await builder.podman('tag', 'hello', `${host}/${name}`);
        const archive = path.join(dir, `hello.${format}.tar`);
        await builder.podman('save', '--format', format, '-o', archive, `${host}/${name}`);
        expect(await stevedore(['load', '-q', '-i', archive])).toBe(`Loaded image: ${name}\n`);
        const puller = newStore();
        const ref = `${host}/${name}`;
        await puller.podman('pull', '--tls-verify=false', ref);
        const pulled = await podmanInspect(puller, ref);
        expect(`sha256:${pulled.Id}`).toBe(imageId);
        expect(pulled.Config.Cmd).toEqual(['/bin/hello', '--loud']);
        expect(sha256(await fileOf(puller, ref, '/bin/hello'))).toBe(sha256(hello));
        expect((await fileOf(puller, ref, '/etc/motd')).toString()).toBe('built by buildah\n');
      });
    }
  });

  it('podman pulls what stevedore commit produced: the printed image ID, Author, Cmd and both layers', async () => {
    const rootfs = path.join(dir, 'rootfs.tar.gz');
    writeFileSync(rootfs, makeLayer({ 'bin/httpd': '#!fake httpd\n', 'home/.keep': '' }).gz);
    await stevedore(['import', '-q', rootfs, 'commits/base:1']);
    await stevedore(['container', 'create', '--name', 'web', 'commits/base:1']);
    writeFileSync(path.join(dir, 'index.html'), '<h1>committed</h1>\n');
    await stevedore(['cp', path.join(dir, 'index.html'), 'web:/home/html/index.html']);
    const printed = await stevedore(['commit', '-a', 'alex <alex@example.com>', '-c', 'CMD ["/bin/httpd","-f"]', 'web', 'commits/web:v2']);
    const id = printed.trim().split('\n').pop();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);

    const puller = newStore();
    const ref = `${host}/commits/web:v2`;
    await puller.podman('pull', '--tls-verify=false', ref);
    const pulled = await podmanInspect(puller, ref);
    expect(`sha256:${pulled.Id}`).toBe(id);
    expect(pulled.Author).toBe('alex <alex@example.com>');
    expect(pulled.Config.Cmd).toEqual(['/bin/httpd', '-f']);
    expect(pulled.RootFS.Layers).toHaveLength(2);
    expect((await fileOf(puller, ref, '/home/html/index.html')).toString()).toBe('<h1>committed</h1>\n');
    expect((await fileOf(puller, ref, '/bin/httpd')).toString()).toBe('#!fake httpd\n');
  });
});
