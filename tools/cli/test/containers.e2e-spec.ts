// The seed's flow through the CLI against a running platform: import a base, create a container,
// cp a file in, diff, commit with -a/-c/-p, inspect the new image, cp back out; pause refuses writes.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { runCli, type CliResult } from './cli-harness';

jest.setTimeout(180_000);

let sut: StevedoreUnderTest;
let dir: string;
let env: Record<string, string>;
const cli = (args: string[], input?: string) => runCli(args, { env, input });

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

async function rootfs(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) {
    if (name.endsWith('/')) pack.entry({ name, type: 'directory', mode: 0o755, mtime: new Date(0) });
    else pack.entry({ name, mode: 0o755, mtime: new Date(0) }, body);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

beforeAll(async () => {
  sut = await startStevedore();
  dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-cli-containers-'));
  env = { STEVEDORE_HOST: sut.url, STEVEDORE_CONFIG: path.join(dir, 'cfg', 'config.json') };
  ok(await cli(['login', '-u', sut.admin.user, '--password-stdin'], sut.admin.password + '\n'));
  writeFileSync(path.join(dir, 'rootfs.tar.gz'), await rootfs({ 'bin/': '', 'bin/httpd': '#!fake httpd\n', 'home/': '' }));
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
