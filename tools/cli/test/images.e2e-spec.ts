// The `stevedore` command as a user runs it, against a real Stevedore (all-in-one processes, a
// private Redis, filesystem storage): login, import, images, tag, inspect --format, history, rmi,
// the seed's save -o bh.gz of two references and load -i, and the error lines.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { type CliResult, ok, rootfsTarGz, runCli } from './cli-harness';

jest.setTimeout(120_000);

let sut: StevedoreUnderTest;
let dir: string;
let env: Record<string, string>;

const cli = (args: string[], input?: string) => runCli(args, { env, input });

/** One clear line on stderr, non-zero exit. */
function oneErrorLine(r: CliResult, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(pattern);
}

beforeAll(async () => {
  sut = await startStevedore();
  dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-cli-e2e-'));
  env = { STEVEDORE_HOST: sut.url, STEVEDORE_CONFIG: path.join(dir, 'cfg', 'config.json') };
});

afterAll(async () => {
  await sut?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const hostKey = () => new URL(sut.url).host;

describe('stevedore CLI against a running platform', () => {
  it('login --password-stdin stores base64 credentials with mode 0600 and never shows the password', async () => {
    const { user, password } = sut.admin;
    const r = ok(await cli(['login', '-u', user, '--password-stdin'], password + '\n'));
    expect(r.stdout).toContain('Login Succeeded');
    expect(r.stdout + r.stderr).not.toContain(password);
    expect(r.argv.join(' ')).not.toContain(password);
    const file = env.STEVEDORE_CONFIG;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(password);
    expect(JSON.parse(text)).toEqual({ auths: { [hostKey()]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } });
  });

  let baseId: string;
  it('import makes an image from a rootfs tarball, with -c changes', async () => {
    const file = path.join(dir, 'rootfs.tar.gz');
    writeFileSync(file, await rootfsTarGz({ 'bin/': '', 'bin/sh': '#!fake shell\n', 'etc/': '', 'etc/hostname': 'bh\n', 'home/': '' }));
    const r = ok(await cli(['import', '-q', file, 'base:1', '-c', 'CMD ["/bin/sh"]', '-c', 'ENV LANG=C.UTF-8']));
    baseId = r.stdout.trim();
    expect(baseId).toMatch(/^sha256:[0-9a-f]{64}$/);
    const cfg = ok(await cli(['inspect', '--format', '{{json .Config.Env}} {{.Id}}', 'base:1'])).stdout.trim();
    expect(cfg).toBe(`["LANG=C.UTF-8"] ${baseId}`);
  });

  it('images lists repository, tag, ID and size; -q, --json and --format', async () => {
    const r = ok(await cli(['images']));
    const [header, ...rows] = r.stdout.trim().split('\n');
    expect(header).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(rows.some((l) => new RegExp(`^base\\s+1\\s+${baseId.slice(7, 19)}\\s`).test(l))).toBe(true);
    expect(
      ok(await cli(['images', '-q']))
        .stdout.trim()
        .split('\n'),
    ).toContain(baseId.slice(7, 19));
    const json = JSON.parse(ok(await cli(['images', '--json'])).stdout);
    expect(json).toEqual(expect.arrayContaining([expect.objectContaining({ repository: 'base', tag: '1', id: baseId })]));
    expect(ok(await cli(['images', 'base', '--format', '{{.Repository}}:{{.Tag}}'])).stdout).toBe('base:1\n');
  });

  it('tag by name and by image ID (the seed: docker tag 87f8dd508d21 music51555/bh:latest)', async () => {
    ok(await cli(['tag', 'base:1', 'music51555/bh:v0.2']));
    ok(await cli(['tag', baseId.slice(7, 19), 'music51555/bh:latest']));
    // A host-qualified name of this platform means the same repository.
    ok(await cli(['tag', `${hostKey()}/base:1`, `${hostKey()}/base:2`]));
    const r = ok(await cli(['images', '--format', '{{.Repository}}:{{.Tag}} {{.Id}}']));
    expect(r.stdout).toContain(`music51555/bh:latest ${baseId}`);
    expect(r.stdout).toContain(`music51555/bh:v0.2 ${baseId}`);
    expect(r.stdout).toContain(`base:2 ${baseId}`);
  });

  it('inspect prints docker inspect JSON; --format evaluates field paths, json, index and range', async () => {
    const arr = JSON.parse(ok(await cli(['inspect', 'music51555/bh:latest', 'base:1'])).stdout);
    expect(arr).toHaveLength(2);
    expect(arr[0].Id).toBe(baseId);
    expect(arr[0].RepoTags).toEqual(expect.arrayContaining(['music51555/bh:latest', 'music51555/bh:v0.2']));
    expect(ok(await cli(['inspect', '--format', '{{.Config.Cmd}}', 'music51555/bh:latest'])).stdout).toBe('[/bin/sh]\n');
    expect(ok(await cli(['inspect', '-f', '{{json .Config.Cmd}}', 'music51555/bh'])).stdout).toBe('["/bin/sh"]\n');
    expect(JSON.parse(ok(await cli(['inspect', '--format', '{{json .Config}}', 'base:1'])).stdout).Cmd).toEqual(['/bin/sh']);
    expect(ok(await cli(['inspect', '--format', '{{.Os}}/{{.Architecture}} {{len .RootFS.Layers}}', 'base:1'])).stdout).toMatch(
      /^linux\/\w+ 1\n$/,
    );
    expect(ok(await cli(['inspect', '--format', '{{range .RepoTags}}{{.}},{{end}}', 'base:1'])).stdout).toContain('base:1,');
  });

  it('history shows the steps, newest first', async () => {
    const r = ok(await cli(['history', 'base:1']));
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines[1]).toContain(baseId.slice(7, 19));
  });

  const bh = () => path.join(dir, 'bh.gz');
  let digestBefore: string;
  it('save -o bh.gz of two references writes a gzip archive (the seed: docker save -o bh.gz music51555/bh music51555/bh:v0.2)', async () => {
    digestBefore = ok(await cli(['inspect', '--format', '{{.Descriptor.digest}}', 'music51555/bh:v0.2'])).stdout.trim();
    const r = ok(await cli(['save', '-o', bh(), 'music51555/bh', 'music51555/bh:v0.2']));
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/Exporting|Downloading/);
    const bytes = readFileSync(bh());
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(readdirParts()).toEqual([]);
  });

  it('rmi untags; the images are gone from the list', async () => {
    const r = ok(await cli(['rmi', 'music51555/bh:latest', 'music51555/bh:v0.2']));
    expect(r.stdout).toBe('Untagged: music51555/bh:latest\nUntagged: music51555/bh:v0.2\n');
    expect(ok(await cli(['images', '--format', '{{.Repository}}'])).stdout).not.toContain('music51555/bh');
    oneErrorLine(await cli(['inspect', 'music51555/bh:v0.2']), /^Error: No such image: music51555\/bh:v0\.2$/);
  });

  it('load -i bh.gz brings both tags back with the same digest', async () => {
    const r = ok(await cli(['load', '-i', bh()]));
    expect(r.stdout.split('\n')).toEqual(
      expect.arrayContaining(['Loaded image: music51555/bh:latest', 'Loaded image: music51555/bh:v0.2']),
    );
    expect(ok(await cli(['inspect', '--format', '{{.Descriptor.digest}}', 'music51555/bh:v0.2'])).stdout.trim()).toBe(digestBefore);
    expect(ok(await cli(['inspect', '--format', '{{.Id}}', 'music51555/bh:latest'])).stdout.trim()).toBe(baseId);
  });

  it('save to stdout when it is not a terminal, plain tar without --gzip', async () => {
    const r = await new Promise<Buffer>((resolve, reject) => {
      const { spawn } = require('node:child_process') as typeof import('node:child_process');
      const child = spawn(process.execPath, [require('./cli-harness').BIN, 'save', '-q', 'base:1'], { env: { ...process.env, ...env } });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`exit ${code}`))));
    });
    // A tar's magic at offset 257, and a manifest.json inside.
    expect(r.subarray(257, 262).toString()).toBe('ustar');
    expect(r.includes(Buffer.from('manifest.json'))).toBe(true);
    expect(createHash('sha256').update(r).digest('hex')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rmi of a digest needs -f while tags name it', async () => {
    ok(await cli(['tag', 'base:1', 'scratchpad/x:1']));
    const digest = ok(await cli(['inspect', '--format', '{{.Descriptor.digest}}', 'scratchpad/x:1'])).stdout.trim();
    oneErrorLine(await cli(['rmi', `scratchpad/x@${digest}`]), /is tagged.*\(CONFLICT\)$/);
    const r = ok(await cli(['rmi', '-f', `scratchpad/x@${digest}`]));
    expect(r.stdout).toBe(`Untagged: scratchpad/x:1\nDeleted: ${digest}\n`);
  });

  it('failures are one clear line and a non-zero exit', async () => {
    oneErrorLine(await cli(['inspect', 'nope/unknown:1']), /^Error: No such image: nope\/unknown:1$/);
    oneErrorLine(await cli(['load', '-i', path.join(dir, 'missing.tar')]), /missing\.tar: no such file \(ENOENT\); check the path$/);
    oneErrorLine(await cli(['tag', 'base:1', 'Bad/Name']), /invalid reference.*\(NAME_INVALID\)$/);
    oneErrorLine(await cli(['inspect', '--format', '{{.Config', 'base:1']), /template: unclosed action.*\(FORMAT_INVALID\)/);
    oneErrorLine(
      await runCli(['images'], { env: { ...env, STEVEDORE_HOST: 'http://127.0.0.1:1' } }),
      /cannot reach the Stevedore server.*ECONNREFUSED/,
    );
    const garbage = path.join(dir, 'garbage.tar');
    writeFileSync(garbage, 'not an archive at all');
    oneErrorLine(await cli(['load', '-q', '-i', garbage]), /^Error: load of .*garbage\.tar failed: .+ \([A-Z_]+\)$/);
  });

  it('--help of every verb shows an example', async () => {
    for (const verb of [
      ['login'],
      ['images'],
      ['tag'],
      ['rmi'],
      ['inspect'],
      ['history'],
      ['save'],
      ['load'],
      ['import'],
      ['commit'],
      ['cp'],
      ['diff'],
      ['pause'],
      ['container', 'create'],
      ['jobs', 'wait'],
      ['push'],
      ['pull'],
    ]) {
      const r = ok(await cli([...verb, '--help']));
      expect(r.stdout).toMatch(/Example/);
    }
  });

  it('logout forgets the credentials', async () => {
    expect(ok(await cli(['logout'])).stdout).toBe(`Removing login credentials for ${hostKey()}\n`);
    expect(JSON.parse(readFileSync(env.STEVEDORE_CONFIG, 'utf8')).auths).toEqual({});
    expect(ok(await cli(['logout'])).stdout).toBe(`Not logged in to ${hostKey()}\n`);
  });
});

/** Leftover temp files of interrupted downloads in the test directory. */
function readdirParts(): string[] {
  return existsSync(dir)
    ? require('node:fs')
        .readdirSync(dir)
        .filter((f: string) => f.endsWith('.part'))
    : [];
}
