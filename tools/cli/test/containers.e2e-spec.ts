// The seed's flow through the CLI against a running platform: import a base, create a container,
// cp a file in, diff, commit with -a/-c/-p, inspect the new image, cp back out; pause refuses writes.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { ok, rootfsTarGz, runCli } from './cli-harness';

jest.setTimeout(180_000);

let sut: StevedoreUnderTest;
let dir: string;
let env: Record<string, string>;
const cli = (args: string[], input?: string) => runCli(args, { env, input });

beforeAll(async () => {
  sut = await startStevedore();
  dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-cli-containers-'));
  env = { STEVEDORE_HOST: sut.url, STEVEDORE_CONFIG: path.join(dir, 'cfg', 'config.json') };
  ok(await cli(['login', '-u', sut.admin.user, '--password-stdin'], sut.admin.password + '\n'));
  writeFileSync(path.join(dir, 'rootfs.tar.gz'), await rootfsTarGz({ 'bin/': '', 'bin/httpd': '#!fake httpd\n', 'home/': '' }));
  ok(await cli(['import', '-q', path.join(dir, 'rootfs.tar.gz'), 'busybox:base']));
});

afterAll(async () => {
  await sut?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('containers and commit through the CLI', () => {
  it('runs the seed: create, cp in, diff, commit -a -c -p, inspect, cp out', async () => {
    ok(await cli(['container', 'create', '--name', 'bh', 'busybox:base']));
    expect(ok(await cli(['container', 'ls'])).stdout).toContain('bh');
    mkdirSync(path.join(dir, 'site'));
    writeFileSync(path.join(dir, 'site', 'index.html'), '<h1>hello</h1>\n');
    ok(await cli(['cp', path.join(dir, 'site', 'index.html'), 'bh:/home/html/index.html']));
    const diff = ok(await cli(['diff', 'bh'])).stdout;
    expect(diff).toMatch(/^A \/home\/html\/index.html$/m);
    const commit = ok(
      await cli([
        'commit',
        '-a',
        'alex <452427904@qq.com>',
        '-c',
        'CMD ["/bin/httpd","-f","-h","/home/html"]',
        '-p',
        'bh',
        'busy_httpd:v0.2',
      ]),
    );
    expect(commit.stdout.trim()).toMatch(/sha256:[0-9a-f]{64}/);
    // The printed ID is Docker's image ID (the config digest), the one inspect shows as .Id.
    expect(ok(await cli(['inspect', '--format', '{{.Id}}', 'busy_httpd:v0.2'])).stdout.trim()).toBe(commit.stdout.trim().split('\n').pop());
    const fmt = ok(
      await cli(['inspect', '--format', '{{.Author}}|{{json .Config.Cmd}}|{{len .RootFS.Layers}}', 'busy_httpd:v0.2']),
    ).stdout.trim();
    expect(fmt).toBe('alex <452427904@qq.com>|["/bin/httpd","-f","-h","/home/html"]|2');
    const out = path.join(dir, 'out.html');
    ok(await cli(['cp', 'bh:/home/html/index.html', out]));
    expect(readFileSync(out, 'utf8')).toBe('<h1>hello</h1>\n');
    const outDir = path.join(dir, 'outdir');
    mkdirSync(outDir);
    ok(await cli(['cp', 'bh:/home', outDir]));
    expect(readFileSync(path.join(outDir, 'home', 'html', 'index.html'), 'utf8')).toBe('<h1>hello</h1>\n');
  });

  it('refuses writes while paused and accepts them again after unpause', async () => {
    ok(await cli(['pause', 'bh']));
    writeFileSync(path.join(dir, 'x.txt'), 'x');
    const refused = await cli(['cp', path.join(dir, 'x.txt'), 'bh:/x.txt']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^Error: .*paused/m);
    ok(await cli(['unpause', 'bh']));
    ok(await cli(['cp', path.join(dir, 'x.txt'), 'bh:/x.txt']));
    expect(ok(await cli(['diff', 'bh'])).stdout).toMatch(/^A \/x.txt$/m);
  });
});

describe("Docker's management and short forms", () => {
  it('create without --name gets a Docker-style name; a name in use is refused in Docker words', async () => {
    const id = ok(await cli(['create', 'busybox:base'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const names = ok(await cli(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}} {{.Status}}'])).stdout;
    const mine = names.split('\n').find((l) => l.startsWith(id));
    expect(mine).toMatch(new RegExp(`^${id} [a-z]+_[a-z]+ Created$`));
    const name = mine!.split(' ')[1];
    const clash = await cli(['container', 'create', '--name', name, 'busybox:base']);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain(
      `Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
    // rm frees the name, as in Docker.
    expect(ok(await cli(['rm', name])).stdout.trim()).toBe(name);
    expect(ok(await cli(['container', 'create', '--name', name, 'busybox:base'])).stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    ok(await cli(['container', 'rm', name]));
  });

  it('ps prints docker ps columns, newest first; -q the short IDs; -l the latest; a paused container says so', async () => {
    const a = ok(await cli(['create', '--name', 'ps-a', 'busybox:base'])).stdout.trim();
    const b = ok(await cli(['create', '--name', 'ps-b', 'busybox:base'])).stdout.trim();
    const out = ok(await cli(['ps'])).stdout.split('\n');
    expect(out[0]).toMatch(/^CONTAINER ID {3}IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$/);
    const rows = out.slice(1).filter(Boolean);
    expect(rows.findIndex((l) => l.endsWith('ps-b'))).toBeLessThan(rows.findIndex((l) => l.endsWith('ps-a')));
    expect(rows.find((l) => l.endsWith('ps-a'))).toMatch(new RegExp(`^${a.slice(0, 12)} +busybox:base +.*Created +ps-a$`));
    expect(ok(await cli(['ps', '-q'])).stdout.split('\n')).toEqual(expect.arrayContaining([a.slice(0, 12), b.slice(0, 12)]));
    expect(ok(await cli(['ps', '-l', '-q', '--no-trunc'])).stdout.trim()).toBe(b);
    ok(await cli(['container', 'pause', 'ps-a']));
    expect(ok(await cli(['container', 'ls', '--format', '{{.Names}}={{.Status}}'])).stdout).toMatch(/^ps-a=Paused$/m);
    ok(await cli(['container', 'unpause', 'ps-a']));
    const bad = await cli(['ps', '-n', 'x']);
    expect(bad.code).toBe(1);
    ok(await cli(['rm', 'ps-a', 'ps-b']));
  });

  it('the image and container forms run the same commands: image ls|tag|inspect|history|rm, container cp|diff|commit', async () => {
    ok(await cli(['create', '--name', 'forms', 'busybox:base']));
    writeFileSync(path.join(dir, 'forms.txt'), 'forms');
    ok(await cli(['container', 'cp', path.join(dir, 'forms.txt'), 'forms:/forms.txt']));
    expect(ok(await cli(['container', 'diff', 'forms'])).stdout.trim()).toBe('A /forms.txt');
    const id = ok(await cli(['container', 'commit', '-q', '-m', 'by form', 'forms', 'forms-img:1'])).stdout.trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    ok(await cli(['image', 'tag', 'forms-img:1', 'forms-img:2']));
    const listed = ok(await cli(['image', 'ls', 'forms-img', '--format', '{{.Tag}} {{.ID}}']))
      .stdout.trim()
      .split('\n')
      .sort();
    expect(listed).toEqual([`1 ${id.slice(7, 19)}`, `2 ${id.slice(7, 19)}`]);
    expect(ok(await cli(['image', 'inspect', '--format', '{{.Comment}}', 'forms-img:2'])).stdout.trim()).toBe('by form');
    expect(ok(await cli(['image', 'history', 'forms-img:2'])).stdout).toContain('by form');
    expect(ok(await cli(['image', 'rm', 'forms-img:2'])).stdout).toContain('Untagged: forms-img:2');
    // Help goes to the command the form names.
    expect(ok(await cli(['image', 'tag', '--help'])).stdout).toMatch(/^Usage: stevedore tag \[options\] <source> <target>/m);
    ok(await cli(['rm', 'forms']));
  });

  it('a container that does not exist is named as Docker names it', async () => {
    for (const args of [
      ['rm', 'nosuch'],
      ['container', 'inspect', 'nosuch'],
      ['diff', 'nosuch'],
      ['pause', 'nosuch'],
    ]) {
      const r = await cli(args);
      expect({ args, code: r.code, stderr: r.stderr.trim() }).toEqual({ args, code: 1, stderr: 'Error: No such container: nosuch' });
    }
  });
});
