// save / load / import through the built CLI against a real platform: save's compression by the
// -o suffix (zstd written by the server and read back by load; an unknown suffix refused), load from
// standard input as `docker load < x.tar` with only the `Loaded image:` lines when not on a terminal,
// import's history naming its source, and `images` SIZE known the moment a commit, a load or an
// import finishes. Also: the launcher runs the bundle, and the sources when asked.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { buildLayout, policyFile, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { BIN, BUNDLE, type CliResult, ok, runCli } from './cli-harness';

jest.setTimeout(180_000);

let sut: StevedoreUnderTest;
let dir: string;
let env: Record<string, string>;
const cli = (args: string[], input?: string) => runCli(args, { env, input });

/** The CLI with FILE as its standard input, as a shell's `stevedore ARGS < FILE` runs it. */
function cliWithStdinFile(args: string[], file: string): Promise<CliResult> {
  const fd = openSync(file, 'r');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: [fd, 'pipe', 'pipe'] });
    closeSync(fd);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b));
    child.stderr!.on('data', (b: Buffer) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr, argv: args }));
  });
}

function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) {
    if (name.endsWith('/')) pack.entry({ name, type: 'directory', mode: 0o755, mtime: new Date(0) });
    else pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  }
  pack.finalize();
  return (async () => {
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  })();
}

/** Every member of a plain tar, by name. */
async function untar(bytes: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => void chunks.push(c as Buffer));
      stream.on('end', () => {
        out.set(h.name, Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(bytes);
  await done;
  return out;
}

/** Sum of the uncompressed sizes of the layers of REF, read from a plain `save` of it (the size cache plays no part). */
async function layerBytesOf(ref: string): Promise<number> {
  const file = path.join(dir, `layers-${Date.now()}.tar`);
  ok(await cli(['save', '-q', '-o', file, ref]));
  const members = await untar(readFileSync(file));
  const manifest = JSON.parse(members.get('manifest.json')!.toString()) as Array<{ Layers: string[] }>;
  let total = 0;
  for (const layer of manifest[0].Layers) {
    const b = members.get(layer)!;
    total += b[0] === 0x1f && b[1] === 0x8b ? gunzipSync(b).length : b.length;
  }
  return total;
}

async function imageRow(ref: string): Promise<{ uncompressedSize: number | null; id: string }> {
  const [name, tag] = ref.split(':');
  const rows = JSON.parse(ok(await cli(['images', name, '--json'])).stdout) as Array<{
    tag: string;
    uncompressedSize: number | null;
    id: string;
  }>;
  const row = rows.find((r) => r.tag === tag);
  if (!row) throw new Error(`${ref} is not listed`);
  return row;
}

const ROOTFS = { 'bin/': '', 'bin/sh': '#!fake shell\n'.repeat(200), 'etc/': '', 'etc/hostname': 'archive\n', 'home/': '' };

beforeAll(async () => {
  sut = await startStevedore();
  dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-cli-archive-'));
  env = { STEVEDORE_HOST: sut.url, STEVEDORE_CONFIG: path.join(dir, 'cfg', 'config.json') };
  ok(await cli(['login', '-u', sut.admin.user, '--password-stdin'], sut.admin.password + '\n'));
  writeFileSync(path.join(dir, 'rootfs.tar.gz'), gzipSync(await tarOf(ROOTFS)));
});

afterAll(async () => {
  await sut?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the launcher', () => {
  it('runs the bundle when it is current, the sources with STEVEDORE_CLI_SOURCE=1', () => {
    expect(existsSync(BUNDLE)).toBe(true);
    const version = (extra: Record<string, string>) =>
      spawnSync(process.execPath, [BIN, '--version'], { env: { ...process.env, ...extra }, encoding: 'utf8' });
    // What the launcher loaded: the bundle registers no TypeScript hook, the sources do.
    const probe = (extra: Record<string, string>) =>
      spawnSync(
        process.execPath,
        [
          '-e',
          `process.argv=[process.argv[0],${JSON.stringify(BIN)},'--version'];require(${JSON.stringify(BIN)});process.on('exit',()=>console.error(Object.keys(require.cache).some(f=>f.endsWith('.ts'))?'SOURCES':'BUNDLE'))`,
        ],
        { env: { ...process.env, ...extra }, encoding: 'utf8' },
      );
    expect(version({}).stdout).toBe('0.1.0\n');
    expect(probe({}).stderr).toContain('BUNDLE');
    // V8's code cache of the bundle, keyed by the bundle's SHA-1: one of another bundle is replaced, not used.
    const cache = `${BUNDLE}.cache`;
    const sha1 = createHash('sha1').update(readFileSync(BUNDLE)).digest();
    writeFileSync(cache, Buffer.concat([Buffer.alloc(20), Buffer.from('not a code cache')]));
    expect(version({}).stdout).toBe('0.1.0\n');
    expect(readFileSync(cache).subarray(0, 20)).toEqual(sha1);
    expect(readFileSync(cache).length).toBeGreaterThan(1000);
    expect(version({}).stdout).toBe('0.1.0\n');
    expect(version({ STEVEDORE_CLI_SOURCE: '1' }).stdout).toBe('0.1.0\n');
    expect(probe({ STEVEDORE_CLI_SOURCE: '1' }).stderr).toContain('SOURCES');
  });
});

describe('import names its source in the history', () => {
  it('import FILE: `Imported from FILE`; import - (stdin): `Imported from -`; SIZE known at once', async () => {
    const file = path.join(dir, 'rootfs.tar.gz');
    ok(await cli(['import', '-q', file, 'arc/base:1']));
    const history = JSON.parse(ok(await cli(['history', '--json', 'arc/base:1'])).stdout) as Array<{ CreatedBy: string }>;
    expect(history[0].CreatedBy).toBe(`Imported from ${file}`);

    ok(await cliWithStdinFile(['import', '-q', '-', 'arc/stdin:1'], file));
    const fromStdin = JSON.parse(ok(await cli(['history', '--json', 'arc/stdin:1'])).stdout) as Array<{ CreatedBy: string }>;
    expect(fromStdin[0].CreatedBy).toBe('Imported from -');

    const row = await imageRow('arc/stdin:1');
    expect(row.uncompressedSize).toBe((await tarOf(ROOTFS)).length);
  });
});

describe('save compression by the -o suffix', () => {
  it('save -o x.tar.zst writes zstd (28 b5 2f fd) that zstd -d reads as a tar and load restores', async () => {
    const digest = ok(await cli(['inspect', '--format', '{{.Descriptor.digest}}', 'arc/base:1'])).stdout.trim();
    const file = path.join(dir, 'x.tar.zst');
    ok(await cli(['save', '-q', '-o', file, 'arc/base:1']));
    const bytes = readFileSync(file);
    expect([...bytes.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    const plain = spawnSync('zstd', ['-dc', file], { maxBuffer: 1 << 28 });
    expect(plain.status).toBe(0);
    expect(plain.stdout.subarray(257, 262).toString()).toBe('ustar');
    expect((await untar(plain.stdout)).has('manifest.json')).toBe(true);
    // skopeo reads the zstd archive as it is (its docker-archive reader undoes zstd, not gzip).
    const inspected = spawnSync('skopeo', ['inspect', `docker-archive:${file}`], { encoding: 'utf8' });
    expect(inspected.stderr).toBe('');
    const diffIds = JSON.parse(ok(await cli(['inspect', '--format', '{{json .RootFS.Layers}}', 'arc/base:1'])).stdout) as string[];
    expect((JSON.parse(inspected.stdout) as { Layers: string[] }).Layers).toEqual(diffIds);

    ok(await cli(['rmi', 'arc/base:1']));
    const r = ok(await cli(['load', '-i', file]));
    expect(r.stdout).toBe('Loaded image: arc/base:1\n');
    expect(ok(await cli(['inspect', '--format', '{{.Descriptor.digest}}', 'arc/base:1'])).stdout.trim()).toBe(digest);
  });

  it('.tzst and --compress zstd with another suffix write zstd; .tgz gzip; .tar and no suffix plain', async () => {
    const magic = async (name: string, extra: string[] = []) => {
      const file = path.join(dir, name);
      ok(await cli(['save', '-q', '-o', file, ...extra, 'arc/base:1']));
      return [...readFileSync(file).subarray(0, 4)];
    };
    expect(await magic('y.tzst')).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    expect(await magic('y.image', ['--compress', 'zstd'])).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    expect((await magic('y.tgz')).slice(0, 2)).toEqual([0x1f, 0x8b]);
    const tarFile = path.join(dir, 'y.tar');
    await magic('y.tar');
    expect(readFileSync(tarFile).subarray(257, 262).toString()).toBe('ustar');
    await magic('y');
    expect(readFileSync(path.join(dir, 'y')).subarray(257, 262).toString()).toBe('ustar');
  });

  it('an unknown suffix is refused before anything is written, naming the way out', async () => {
    const file = path.join(dir, 'x.tar.xz');
    const r = await cli(['save', '-o', file, 'arc/base:1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'Error: cannot tell the compression from x.tar.xz (INVALID_ARGUMENT); end the file name in .tar, .gz, .tgz, .zst or .tzst, or give --compress none|gzip|zstd',
    ]);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('x.tar.xz'))).toEqual([]);
    const contradiction = await cli(['save', '-o', path.join(dir, 'z.gz'), '--compress', 'zstd', 'arc/base:1']);
    expect(contradiction.code).toBe(1);
    expect(contradiction.stderr).toMatch(/^Error: z\.gz names gzip compression but zstd was asked for \(INVALID_ARGUMENT\)/);
  });
});

describe('load from standard input', () => {
  it('stevedore load < x.tar and load -i - print only the Loaded image lines when not on a terminal', async () => {
    const file = path.join(dir, 'stdin.tar');
    ok(await cli(['save', '-q', '-o', file, 'arc/base:1', 'arc/stdin:1']));
    ok(await cli(['rmi', 'arc/stdin:1']));
    const r = ok(await cliWithStdinFile(['load'], file));
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['Loaded image: arc/base:1', 'Loaded image: arc/stdin:1']);
    // Not a terminal: no progress line (docker load prints none either).
    expect(r.stderr).toBe('');
    ok(await cli(['rmi', 'arc/stdin:1']));
    const dash = ok(await cliWithStdinFile(['load', '-i', '-'], file));
    expect(dash.stdout).toContain('Loaded image: arc/stdin:1\n');
    expect(dash.stderr).toBe('');
    expect(ok(await cli(['images', 'arc/stdin', '--format', '{{.Tag}}'])).stdout).toBe('1\n');
  });

  it('an empty standard input is refused with one line', async () => {
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '');
    const r = await cliWithStdinFile(['load'], empty);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^Error: load of stdin failed: /);
  });
});

describe('images SIZE is known as soon as the image is made', () => {
  it('after commit: the sum of the layer sizes, before any inspect or history', async () => {
    ok(await cli(['container', 'create', '--name', 'sizer', 'arc/base:1']));
    const content = path.join(dir, 'content.txt');
    writeFileSync(content, 'x'.repeat(12_000));
    ok(await cli(['cp', content, 'sizer:/home/content.txt']));
    ok(await cli(['commit', 'sizer', 'arc/committed:1']));
    const row = await imageRow('arc/committed:1');
    const expected = await layerBytesOf('arc/committed:1');
    expect(expected).toBeGreaterThan(12_000);
    expect(row.uncompressedSize).toBe(expected);
  });

  it('after commit of a parent pushed through /v2 (its layer sizes never learned): the sum of the layer sizes', async () => {
    const layout = buildLayout(path.join(dir, 'pushed-layout'), 'v1', [{ 'etc/motd': 'pushed '.repeat(2000) }]);
    const pushed = spawnSync(
      'skopeo',
      [
        '--policy',
        policyFile(dir),
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `${sut.admin.user}:${sut.admin.password}`,
        `oci:${layout.dir}:v1`,
        `docker://${new URL(sut.url).host}/arc/pushed:1`,
      ],
      { encoding: 'utf8' },
    );
    expect(pushed.stderr).toBe('');
    expect(pushed.status).toBe(0);
    ok(await cli(['container', 'create', '--name', 'pushed', 'arc/pushed:1']));
    const content = path.join(dir, 'pushed.txt');
    writeFileSync(content, 'y'.repeat(9_000));
    ok(await cli(['cp', content, 'pushed:/home/pushed.txt']));
    ok(await cli(['commit', 'pushed', 'arc/pushed-commit:1']));
    const row = await imageRow('arc/pushed-commit:1');
    const expected = await layerBytesOf('arc/pushed-commit:1');
    expect(expected).toBeGreaterThan(14_000 + 9_000);
    expect(row.uncompressedSize).toBe(expected);
  });

  it('after load: the sum of the layer sizes of an archive whose layers this platform has never seen', async () => {
    // A docker-archive made here: one fresh uncompressed layer, its config and manifest.json.
    const layer = await tarOf({ 'data/': '', 'data/fresh.bin': `fresh ${Date.now()} `.repeat(900) });
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] },
        history: [{ created: '2026-01-01T00:00:00Z', created_by: 'test layer' }],
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify([{ Config: `${sha(config)}.json`, RepoTags: ['arc/fresh:1'], Layers: [`${sha(layer)}/layer.tar`] }]),
    );
    const pack = tar.pack();
    pack.entry({ name: `${sha(config)}.json`, mtime: new Date(0) }, config);
    pack.entry({ name: `${sha(layer)}/layer.tar`, mtime: new Date(0) }, layer);
    pack.entry({ name: 'manifest.json', mtime: new Date(0) }, manifest);
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const file = path.join(dir, 'fresh.tar');
    writeFileSync(file, Buffer.concat(chunks));
    expect(ok(await cliWithStdinFile(['load'], file)).stdout).toBe('Loaded image: arc/fresh:1\n');
    expect((await imageRow('arc/fresh:1')).uncompressedSize).toBe(layer.length);
    expect(await layerBytesOf('arc/fresh:1')).toBe(layer.length);
  });
});
