// Golden output against a real platform: what `images`, `history` and `inspect` print, down to the
// column layout and the key order of Docker's `image inspect`, on an image committed with the seed's
// options. Times are the only thing masked.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { ok, rootfsTarGz, runCli } from './cli-harness';

jest.setTimeout(180_000);

let sut: StevedoreUnderTest;
let dir: string;
let env: Record<string, string>;
const cli = (args: string[], input?: string) => runCli(args, { env, input });

let id: string;
beforeAll(async () => {
  sut = await startStevedore();
  dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-cli-golden-'));
  env = { STEVEDORE_HOST: sut.url, STEVEDORE_CONFIG: path.join(dir, 'cfg', 'config.json') };
  ok(await cli(['login', '-u', sut.admin.user, '--password-stdin'], sut.admin.password + '\n'));
  writeFileSync(path.join(dir, 'rootfs.tar.gz'), await rootfsTarGz({ 'bin/': '', 'bin/httpd': '#!fake httpd\n', 'home/': '' }));
  ok(await cli(['import', '-q', path.join(dir, 'rootfs.tar.gz'), 'golden/busybox:base']));
  ok(await cli(['create', '--name', 'bh', 'golden/busybox:base']));
  writeFileSync(path.join(dir, 'index.html'), '<h1>hello</h1>\n');
  ok(await cli(['cp', path.join(dir, 'index.html'), 'bh:/home/html/index.html']));
  const c = ok(
    await cli([
      'commit',
      '-q',
      '-a',
      'alex <452427904@qq.com>',
      '-m',
      'add the page',
      '-c',
      'CMD ["/bin/httpd","-f","-h","/home/html"]',
      '-p',
      'bh',
      'golden/busy_httpd:v0.2',
    ]),
  );
  id = c.stdout.trim();
});
afterAll(async () => {
  await sut?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Relative times change from run to run: `2 seconds ago`, `About a minute ago` -> `<time>`. */
const masked = (s: string) => s.replace(/(About an? \w+|Less than a second|\d+ \w+) ago/g, '<time>');

describe('golden output', () => {
  it("images: docker's columns, each as wide as its widest cell and three spaces apart (tabwriter's padding)", async () => {
    const out = ok(await cli(['images', 'golden/busy_httpd'])).stdout;
    const [header, row, ...rest] = out.split('\n');
    expect(rest.filter(Boolean)).toEqual([]);
    const columns = ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'];
    const cells = [
      'golden/busy_httpd',
      'v0.2',
      id.slice(7, 19),
      masked(row).includes('<time>') ? row.match(/(About an? \w+|Less than a second|\d+ \w+) ago/)![0] : '?',
      row.split(/ {3,}/).pop()!,
    ];
    const widths = columns.map((c, i) => Math.max(c.length, cells[i].length));
    const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('   ');
    expect(header).toBe(line(columns));
    expect(row).toBe(line(cells));
    expect(cells[4]).toMatch(/^[0-9.]+[kMG]?B$/); // go-units, as docker: 6.14kB
  });

  it('history: the commit on top of the import, newest first, with its comment', async () => {
    const lines = masked(ok(await cli(['history', 'golden/busy_httpd:v0.2'])).stdout)
      .trimEnd()
      .split('\n');
    expect(lines[0]).toMatch(/^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(new RegExp(`^${id.slice(7, 19)}\\s+<time>\\s+.*\\s+[0-9.]+ ?[kMG]?B\\s+add the page$`));
    expect(lines[2]).toMatch(/^<missing>\s+<time>\s+.*Imported from/);
  });

  it("inspect: Docker's keys in Docker's order, with the seed's Author, Comment and Cmd", async () => {
    const [image] = JSON.parse(ok(await cli(['inspect', 'golden/busy_httpd:v0.2'])).stdout);
    const docker = [
      'Id',
      'RepoTags',
      'RepoDigests',
      'Parent',
      'Comment',
      'Created',
      'DockerVersion',
      'Author',
      'Config',
      'Architecture',
      'Variant',
      'Os',
      'OsVersion',
      'Size',
      'RootFS',
      'Metadata',
    ];
    // Docker's keys first and in its order (Variant and OsVersion only when set); Stevedore's own after them.
    const keys = Object.keys(image);
    expect(keys.filter((k) => docker.includes(k))).toEqual(docker.filter((k) => k in image));
    expect(keys.slice(0, keys.filter((k) => docker.includes(k)).length).every((k) => docker.includes(k))).toBe(true);
    expect(image).toMatchObject({
      Id: id,
      RepoTags: ['golden/busy_httpd:v0.2'],
      Parent: '',
      Comment: 'add the page',
      Author: 'alex <452427904@qq.com>',
      Config: { Cmd: ['/bin/httpd', '-f', '-h', '/home/html'] },
      Os: 'linux',
      RootFS: { Type: 'layers' },
    });
    expect(image.RootFS.Layers).toHaveLength(2);
    expect(image.RepoDigests).toEqual([expect.stringMatching(/^golden\/busy_httpd@sha256:[0-9a-f]{64}$/)]);
    expect(Number.isNaN(Date.parse(image.Created))).toBe(false);
  });
});
