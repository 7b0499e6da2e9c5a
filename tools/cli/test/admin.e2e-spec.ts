// The admin and jobs verbs against a real platform (auth on): user create|ls|rm|passwd, robot
// create|ls|rm, upstream add|ls|rm, jobs ls|inspect|wait|cancel, as the bootstrap admin and as an
// ordinary user, each through its own config file (its own login).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { type CliResult, ok, runCli } from './cli-harness';

jest.setTimeout(180_000);

let sut: StevedoreUnderTest;
let dir: string;
const ALICE_PASSWORD = 'alice-password-1';
const ALICE_NEW_PASSWORD = 'alice-password-2';
const envs: Record<string, Record<string, string>> = {};

/** The CLI as one of the logged-in callers (`admin`, `alice`, ...). */
const as = (who: string, args: string[], input?: string) => runCli(args, { env: envs[who], input });

/** A refusal: exit 1 and one `Error: ... (CODE)` line naming the code. */
function refused(r: CliResult, code: string, message: RegExp): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: '' });
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(new RegExp(`^Error: .*\\(${code}\\)`));
  expect(r.stderr).toMatch(message);
}

/** A table row's cells: columns are three or more spaces apart. */
const cells = (line: string) => line.split(/ {3,}/);

async function login(who: string, user: string, password: string): Promise<void> {
  envs[who] = { STEVEDORE_HOST: sut.url, STEVEDORE_CONFIG: path.join(dir, who, 'config.json') };
  ok(await as(who, ['login', '-u', user, '--password-stdin'], password + '\n'));
}

async function rootfs(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

/** Commits a new container of `image` as `who`, detached: the job's id. */
async function commitJob(who: string, image: string, target: string): Promise<string> {
  const name = `c-${who}-${Math.random().toString(36).slice(2, 8)}`;
  ok(await as(who, ['container', 'create', '--name', name, image]));
  return ok(await as(who, ['commit', '-d', name, target])).stdout.trim();
}

beforeAll(async () => {
  sut = await startStevedore();
  dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-cli-admin-'));
  await login('admin', sut.admin.user, sut.admin.password);
  writeFileSync(path.join(dir, 'rootfs.tar.gz'), await rootfs({ 'etc/motd': 'hello\n' }));
});

afterAll(async () => {
  await sut?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('--help of every admin and jobs verb shows an example', async () => {
  for (const group of ['user', 'robot', 'upstream', 'jobs'])
    expect({ group, code: (await runCli([group, '--help'])).code }).toEqual({ group, code: 0 });
  const verbs = [
    ...['create', 'ls', 'rm', 'passwd'].map((v) => ['user', v]),
    ...['create', 'ls', 'rm'].map((v) => ['robot', v]),
    ...['add', 'ls', 'rm'].map((v) => ['upstream', v]),
    ...['ls', 'inspect', 'wait', 'cancel'].map((v) => ['jobs', v]),
  ];
  for (const verb of verbs) {
    const r = ok(await runCli([...verb, '--help']));
    expect({ verb, example: /Example/.test(r.stdout) }).toEqual({ verb, example: true });
  }
});

describe('user', () => {
  it('create reads the password from stdin and prints the name; ls shows roles in a table', async () => {
    expect(ok(await as('admin', ['user', 'create', 'alice', '--password-stdin'], ALICE_PASSWORD + '\n')).stdout).toBe('alice\n');
    // A piped stdin without the flag is read too (no prompt).
    expect(ok(await as('admin', ['user', 'create', '--admin', 'root2'], 'root2-password\n')).stdout).toBe('root2\n');
    await login('alice', 'alice', ALICE_PASSWORD);
    const ls = ok(await as('admin', ['user', 'ls'])).stdout.split('\n');
    expect(ls[0]).toBe('NAME    ROLE    STATUS    CREATED');
    expect(ls.slice(1, 4).map((l) => l.split(/ {2,}/).slice(0, 3))).toEqual([
      ['admin', 'admin', 'enabled'],
      ['alice', 'user', 'enabled'],
      ['root2', 'admin', 'enabled'],
    ]);
    expect(ok(await as('admin', ['user', 'ls', '-q'])).stdout).toBe('admin\nalice\nroot2\n');
    expect(ok(await as('admin', ['user', 'ls', '--format', '{{.Name}}={{.Role}}'])).stdout).toBe('admin=admin\nalice=user\nroot2=admin\n');
  });

  it('refuses a non-admin: user create and user ls exit 1 with DENIED', async () => {
    refused(await as('alice', ['user', 'create', 'mallory', '--password-stdin'], 'mallory-password\n'), 'DENIED', /admin/);
    refused(await as('alice', ['user', 'ls']), 'DENIED', /admin/);
    expect(ok(await as('admin', ['user', 'ls', '-q'])).stdout).not.toContain('mallory');
    // Without a password on stdin there is nothing to send.
    refused(await as('admin', ['user', 'create', 'nopass', '--password-stdin'], ''), 'INVALID_ARGUMENT', /stdin was empty/);
  });

  it('rm refuses the last admin and yourself with 409 CONFLICT', async () => {
    // root2 is an admin besides the bootstrap one: removing yourself is refused for that reason.
    refused(await as('admin', ['user', 'rm', 'admin']), 'CONFLICT', /cannot remove your own account/);
    await login('root2', 'root2', 'root2-password');
    expect(ok(await as('root2', ['user', 'rm', 'admin'])).stdout).toBe('admin\n');
    // Now root2 is the only admin left.
    refused(await as('root2', ['user', 'rm', 'root2']), 'CONFLICT', /root2 is the last admin/);
    expect(ok(await as('root2', ['user', 'create', '--admin', 'admin'], sut.admin.password + '\n')).stdout).toBe('admin\n');
    // The old credentials of `admin` work again: the account was made anew with the same password.
    expect(ok(await as('admin', ['user', 'ls', '-q'])).stdout).toBe('admin\nalice\nroot2\n');
  });

  it('passwd changes your own password and keeps your login working', async () => {
    const r = ok(await as('alice', ['user', 'passwd', '--password-stdin'], ALICE_NEW_PASSWORD + '\n'));
    expect(r.stdout).toBe('Password changed for alice\n');
    // The stored credentials were updated: alice still reaches the API; the old password does not.
    ok(await as('alice', ['robot', 'ls']));
    envs['old'] = { STEVEDORE_HOST: sut.url, STEVEDORE_CONFIG: path.join(dir, 'old', 'config.json') };
    const old = await as('old', ['login', '-u', 'alice', '--password-stdin'], ALICE_PASSWORD + '\n');
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/^Error: .*\(UNAUTHORIZED\)/);
    // Someone else's password: an admin's business only (another user's account answers as missing).
    refused(await as('alice', ['user', 'passwd', 'root2'], 'hijacked-password\n'), 'NOT_FOUND', /no user|root2/);
  });
});

describe('robot', () => {
  let secret: string;

  it('create prints the secret once; the robot logs in with it; ls lists it', async () => {
    const r = ok(await as('alice', ['robot', 'create', 'alice.ci', '--scope', 'alice/*:pull,push']));
    const m = /^Name: alice\.ci\nSecret: (\S+)\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    secret = m![1];
    expect(r.stderr).toMatch(/not shown again/);
    await login('robot', 'alice.ci', secret);
    const ls = ok(await as('alice', ['robot', 'ls'])).stdout.split('\n');
    // Columns three spaces apart at the least, as docker aligns them; a cell has single spaces only.
    expect(ls[0]).toMatch(/^NAME {7}OWNER {3}CREATED {3,}SCOPES$/);
    expect(cells(ls[1])).toEqual(['alice.ci', 'alice', expect.stringMatching(/ago$/), 'alice/*:pull,push']);
    // A non-admin's robot is named after them.
    refused(await as('alice', ['robot', 'create', 'ci2', '--scope', 'alice/*']), 'INVALID_REQUEST', /alice\.<name>/);
    refused(await as('alice', ['robot', 'create', 'alice.x', '--scope', 'alice/*:fly']), 'INVALID_ARGUMENT', /unknown action "fly"/);
  });

  it('rm removes it: its secret stops working', async () => {
    const tmp = ok(await as('alice', ['robot', 'create', '-q', 'alice.tmp', '--scope', 'alice/*'])).stdout;
    expect(tmp).toMatch(/^\S{20,}\n$/);
    await login('tmp', 'alice.tmp', tmp.trim());
    ok(await as('tmp', ['jobs', 'ls']));
    expect(ok(await as('alice', ['robot', 'rm', 'alice.tmp'])).stdout).toBe('alice.tmp\n');
    expect(ok(await as('alice', ['robot', 'ls', '-q'])).stdout).toBe('alice.ci\n');
    refused(await as('tmp', ['jobs', 'ls']), 'UNAUTHORIZED', /./);
    refused(await as('alice', ['robot', 'rm', 'alice.tmp']), 'NOT_FOUND', /alice\.tmp/);
  });
});

describe('upstream', () => {
  it('push without an upstream says how to add one', async () => {
    ok(await as('admin', ['import', '-q', path.join(dir, 'rootfs.tar.gz'), 'team/app:v1']));
    refused(await as('admin', ['push', 'team/app:v1']), 'NOT_FOUND', /no upstream registry is configured.*stevedore upstream add <url>/);
  });

  it('add prints the id; ls shows prefixes and the default; rm removes; non-admins are refused', async () => {
    expect(
      ok(await as('admin', ['upstream', 'add', 'http://127.0.0.1:9', '--id', 'up1', '--prefix', 'example.com', '--default'])).stdout,
    ).toBe('up1\n');
    expect(
      ok(await as('admin', ['upstream', 'add', 'http://127.0.0.1:10', '--id', 'up2', '-u', 'bot', '--password-stdin'], 'tok\n')).stdout,
    ).toBe('up2\n');
    expect(ok(await as('admin', ['upstream', 'ls'])).stdout).toBe(
      [
        'ID    URL                   PREFIXES      DEFAULT   USERNAME',
        'up1   http://127.0.0.1:9    example.com   yes',
        'up2   http://127.0.0.1:10   -             no        bot',
        '',
      ].join('\n'),
    );
    refused(await as('alice', ['upstream', 'add', 'http://127.0.0.1:11']), 'DENIED', /admin/);
    refused(await as('admin', ['upstream', 'add', 'ftp://x']), 'INVALID_REQUEST', /./);
    expect(ok(await as('admin', ['upstream', 'rm', 'up1', 'up2'])).stdout).toBe('up1\nup2\n');
    expect(ok(await as('admin', ['upstream', 'ls', '-q'])).stdout).toBe('');
  });
});

describe('jobs', () => {
  let aliceJob: string;
  let adminJob: string;
  let exportJob: string;

  beforeAll(async () => {
    ok(await as('alice', ['import', '-q', path.join(dir, 'rootfs.tar.gz'), 'alice/base:1']));
    aliceJob = await commitJob('alice', 'alice/base:1', 'alice/app:v1');
    adminJob = await commitJob('admin', 'team/app:v1', 'team/app:v2');
  });

  it('wait prints the image ID of a commit', async () => {
    expect(ok(await as('alice', ['jobs', 'wait', '-q', aliceJob])).stdout).toMatch(/^sha256:[a-f0-9]{64}\n$/);
    expect(ok(await as('admin', ['jobs', 'wait', '-q', adminJob])).stdout).toMatch(/^sha256:[a-f0-9]{64}\n$/);
    // An export is a job too: started detached through the API, waited for by its id.
    const res = await fetch(`${sut.url}/api/v1/exports`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Basic ' + Buffer.from(`alice:${ALICE_NEW_PASSWORD}`).toString('base64'),
      },
      body: JSON.stringify({ references: ['alice/base:1'] }),
    });
    expect(res.status).toBe(202);
    exportJob = ((await res.json()) as { id: string }).id;
    expect(ok(await as('alice', ['jobs', 'wait', '-q', exportJob])).stdout).toBe(`${exportJob} completed\n`);
  });

  it('ls: an ordinary user sees only their own jobs, an admin everyone’s', async () => {
    const mine = ok(await as('alice', ['jobs', 'ls', '-a', '-q']))
      .stdout.trim()
      .split('\n');
    expect(mine.sort()).toEqual([aliceJob, exportJob].sort());
    const all = ok(await as('admin', ['jobs', 'ls', '-a', '-q']))
      .stdout.trim()
      .split('\n');
    expect(all).toEqual(expect.arrayContaining([aliceJob, adminJob, exportJob]));
    // Newest first.
    expect(all.indexOf(exportJob)).toBeLessThan(all.indexOf(aliceJob));
    const narrowed = ok(await as('admin', ['jobs', 'ls', '-a', '-q', '--filter', 'owner=alice']))
      .stdout.trim()
      .split('\n');
    expect(narrowed.sort()).toEqual([aliceJob, exportJob].sort());
    // alice's owner filter cannot reach someone else's.
    expect(ok(await as('alice', ['jobs', 'ls', '-a', '-q', '--filter', 'owner=admin'])).stdout).toBe('');
  });

  it('ls prints a docker-style table, hides finished jobs without -a, filters and formats', async () => {
    const table = ok(await as('alice', ['jobs', 'ls', '-a'])).stdout.split('\n');
    expect(table[0]).toMatch(/^JOB ID {3,}KIND {5}STATE {7}OWNER {3}CREATED {3,}DESCRIPTION$/);
    expect(cells(table.find((l) => l.startsWith(aliceJob))!)).toEqual([
      aliceJob,
      'commit',
      'completed',
      'alice',
      expect.stringMatching(/ago$/),
      expect.stringMatching(/^commit \S+ -> alice\/app:v1$/),
    ]);
    expect(cells(table.find((l) => l.startsWith(exportJob))!)).toEqual([
      exportJob,
      'export',
      'completed',
      'alice',
      expect.stringMatching(/ago$/),
      'save alice/base:1',
    ]);
    // Every job has finished: without -a only the header is left.
    expect(ok(await as('alice', ['jobs', 'ls'])).stdout).toMatch(/^JOB ID +KIND +STATE +OWNER +CREATED +DESCRIPTION\n$/);
    expect(ok(await as('alice', ['jobs', 'ls', '-a', '--filter', 'kind=export', '--format', '{{.ID}} {{.Kind}} {{.State}}'])).stdout).toBe(
      `${exportJob} export completed\n`,
    );
    expect(ok(await as('alice', ['jobs', 'ls', '-q', '--filter', 'state=failed'])).stdout).toBe('');
    const json = ok(await as('admin', ['jobs', 'ls', '-a', '--filter', 'kind=commit', '--format', 'json']))
      .stdout.trim()
      .split('\n');
    expect(json.map((l) => JSON.parse(l)).find((r) => r.ID === adminJob)).toMatchObject({
      Kind: 'commit',
      State: 'completed',
      Owner: 'admin',
    });
    refused(await as('alice', ['jobs', 'ls', '--filter', 'state=done']), 'INVALID_ARGUMENT', /unknown job state "done"/);
  });

  it('inspect shows a job of any kind; another user’s job is not found', async () => {
    const [commit] = JSON.parse(ok(await as('alice', ['jobs', 'inspect', aliceJob])).stdout);
    expect(commit).toMatchObject({ id: aliceJob, kind: 'commit', state: 'completed', result: { reference: 'alice/app:v1' } });
    expect(ok(await as('alice', ['jobs', 'inspect', '--format', '{{.kind}} {{.state}}', exportJob])).stdout).toBe('export completed\n');
    refused(await as('alice', ['jobs', 'inspect', adminJob]), 'NOT_FOUND', /no such job/);
  });

  it('cancel: a finished commit is a conflict, another kind is not cancellable, another user’s is not found', async () => {
    refused(await as('alice', ['jobs', 'cancel', aliceJob]), 'CONFLICT', /already completed/);
    refused(await as('alice', ['jobs', 'cancel', exportJob]), 'UNSUPPORTED', /export job: only commit and batch jobs/);
    refused(await as('alice', ['jobs', 'cancel', adminJob]), 'NOT_FOUND', /not found/);
  });
  it('ls without -a shows a job not finished yet: a push to an upstream that refuses connections retries', async () => {
    ok(await as('admin', ['upstream', 'add', 'http://127.0.0.1:9', '--id', 'dead']));
    const id = ok(await as('admin', ['push', '-d', 'team/app:v1', 'dead/team/app:v1'])).stdout.trim();
    // Five attempts, 2 s apart and doubling: unfinished for about half a minute.
    const rows = ok(
      await as('admin', ['jobs', 'ls', '--filter', 'kind=replicate', '--format', '{{.ID}} {{.Kind}} {{.State}} | {{.Description}}']),
    )
      .stdout.trim()
      .split('\n');
    expect(rows).toEqual([
      expect.stringMatching(new RegExp(`^${id} replicate (active|waiting|delayed) \\| push team/app:v1 -> dead/team/app:v1$`)),
    ]);
    // A replication has no owner but the admins.
    expect(ok(await as('alice', ['jobs', 'ls', '-a', '-q', '--filter', 'kind=replicate'])).stdout).toBe('');
    const [status] = JSON.parse(ok(await as('admin', ['jobs', 'inspect', id])).stdout);
    expect(status).toMatchObject({ id, kind: 'replicate', data: { target: { upstream: 'dead', name: 'team/app' } } });
    refused(await as('admin', ['jobs', 'cancel', id]), 'UNSUPPORTED', /replicate job: only commit and batch jobs/);
    ok(await as('admin', ['upstream', 'rm', 'dead']));
  });
});

describe('user rm', () => {
  it('removes the user, their robots and their logins', async () => {
    expect(ok(await as('admin', ['robot', 'ls', '-q'])).stdout).toBe('alice.ci\n');
    expect(ok(await as('admin', ['user', 'rm', 'alice'])).stdout).toBe('alice\n');
    expect(ok(await as('admin', ['robot', 'ls', '-q'])).stdout).toBe('');
    expect(ok(await as('admin', ['user', 'ls', '-q'])).stdout).toBe('admin\nroot2\n');
    refused(await as('alice', ['robot', 'ls']), 'UNAUTHORIZED', /./);
    refused(await as('robot', ['jobs', 'ls']), 'UNAUTHORIZED', /./);
    refused(await as('admin', ['user', 'rm', 'alice']), 'NOT_FOUND', /no user alice/);
  });
});
