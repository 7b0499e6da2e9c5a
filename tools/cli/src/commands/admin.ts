// Administration: `user create|ls|rm|passwd`, `robot create|ls|rm` and `upstream add|ls|rm`, on
// /api/v1/users, /robots and /upstreams. Passwords and secrets come from stdin (never argv, where
// other users see them), as `docker login --password-stdin` takes them; a robot's secret is printed
// once, when it is made.
import type { Command } from 'commander';
import type { UpstreamRequest, User } from '@stevedore/api-contract';
import { collect } from '../args';
import { getCredentials, readConfig, setCredentials, writeConfig } from '../config-file';
import type { Context } from '../context';
import { CliError, eachArg } from '../errors';
import { compileTemplate } from '../format-template';
import { table, timeAgo } from '../output';

const enc = encodeURIComponent;

async function readStdin(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A password from stdin: with `--password-stdin`, or whenever stdin is not a terminal (piped, no
 * prompt). One trailing newline is dropped, as docker login does.
 */
export async function passwordFromStdin(c: Context, flag: boolean | undefined, what = 'a password'): Promise<string> {
  if (!flag && c.io.stdin.isTTY)
    throw new CliError(`${what} is needed`, 'INVALID_ARGUMENT', 'pipe it in with --password-stdin: echo "$PASSWORD" | stevedore ...');
  const password = (await readStdin(c.io.stdin)).replace(/\r?\n$/, '');
  if (!password) throw new CliError(`${what} is needed, and stdin was empty`, 'INVALID_ARGUMENT', 'pipe it in with --password-stdin');
  return password;
}

/** `REPOSITORY:ACTIONS` (`team/*:pull,push`, `app:pull`) as a robot scope; the actions default to pull. */
export function parseScope(s: string): { repository: string; actions: Array<'pull' | 'push' | 'delete' | '*'> } {
  const colon = s.lastIndexOf(':');
  const repository = colon < 0 ? s : s.slice(0, colon);
  const actions = (colon < 0 ? 'pull' : s.slice(colon + 1)).split(',').filter(Boolean);
  if (!repository)
    throw new CliError(`scope "${s}" names no repository`, 'INVALID_ARGUMENT', 'write REPOSITORY[:ACTIONS], e.g. team/*:pull,push');
  for (const a of actions)
    if (!['pull', 'push', 'delete', '*'].includes(a))
      throw new CliError(`unknown action "${a}" in scope "${s}"`, 'INVALID_ARGUMENT', 'actions: pull, push, delete, *');
  if (!actions.length) throw new CliError(`scope "${s}" has no actions`, 'INVALID_ARGUMENT', 'write REPOSITORY:pull,push');
  return { repository, actions: actions as Array<'pull' | 'push' | 'delete' | '*'> };
}

export function roleOf(u: User): string {
  return u.robot ? 'robot' : u.admin ? 'admin' : 'user';
}

/** Rows as a table, as `--format` lines, or only the first column with `-q`. */
function printRows<R extends Record<string, string>>(
  c: Context,
  o: { quiet?: boolean; format?: string },
  header: Array<[keyof R & string, string]>,
  rows: R[],
): void {
  if (o.quiet) return rows.forEach((r) => c.print(r[header[0][0]]));
  if (o.format === 'json') return rows.forEach((r) => c.print(JSON.stringify(r)));
  if (o.format) {
    const t = compileTemplate(o.format);
    return rows.forEach((r) => c.print(t(r)));
  }
  c.io.stdout.write(
    table(
      header.map(([, h]) => h),
      rows.map((r) => header.map(([k]) => r[k])),
    ),
  );
}

function registerUsers(program: Command, ctx: () => Context): void {
  const user = program.command('user').description('Manage user accounts (admins; anyone: passwd of their own)');

  user
    .command('create')
    .description('Create a user; the password is read from stdin')
    .argument('<name>', 'user name (2-64 of a-z 0-9 . _ -)')
    .option('--admin', 'make the user an admin')
    .option('--password-stdin', 'read the password from stdin (also when stdin is a pipe)')
    .addHelpText('after', '\nExample:\n  $ echo "$PASSWORD" | stevedore user create alice --password-stdin')
    .action(async (name: string, o: { admin?: boolean; passwordStdin?: boolean }) => {
      const c = ctx();
      const password = await passwordFromStdin(c, o.passwordStdin);
      const u = await c.api.call('createUser', '/api/v1/users', { json: { name, password, ...(o.admin ? { admin: true } : {}) } });
      c.print(u.name);
    });

  user
    .command('ls')
    .alias('list')
    .description('List accounts (robots included)')
    .addHelpText('after', '\nExamples:\n  $ stevedore user ls\n  $ stevedore user ls --format "{{.Name}} {{.Role}}"')
    .option('-q, --quiet', 'only names')
    .option('--format <template>', '"json" or a Go template: .Name .Role .Status .Owner .CreatedAt .CreatedSince')
    .action(async (o: { quiet?: boolean; format?: string }) => {
      const c = ctx();
      const users = await c.api.call('listUsers', '/api/v1/users');
      const now = Date.now();
      const rows = users.map((u) => ({
        Name: u.name,
        Role: roleOf(u),
        Status: u.disabled ? 'disabled' : 'enabled',
        Owner: u.owner ?? '',
        CreatedAt: u.createdAt,
        CreatedSince: timeAgo(u.createdAt, now),
      }));
      printRows(
        c,
        o,
        [
          ['Name', 'NAME'],
          ['Role', 'ROLE'],
          ['Status', 'STATUS'],
          ['CreatedSince', 'CREATED'],
        ],
        rows,
      );
    });

  user
    .command('rm')
    .alias('remove')
    .description('Remove users, their sessions and their robots (not yourself, nor the last admin)')
    .argument('<name...>', 'user names')
    .addHelpText('after', '\nExample:\n  $ stevedore user rm alice')
    .action(async (names: string[]) => {
      const c = ctx();
      await eachArg(c, names, async (n) => {
        await c.api.call('removeUser', `/api/v1/users/${enc(n)}`);
        c.print(n);
      });
    });

  user
    .command('passwd')
    .description("Change a password (yours by default; admins: anyone's); the new one is read from stdin")
    .argument('[name]', 'user name (default: the one you are logged in as)')
    .option('--password-stdin', 'read the new password from stdin (also when stdin is a pipe)')
    .addHelpText('after', '\nExample:\n  $ echo "$NEW_PASSWORD" | stevedore user passwd --password-stdin')
    .action(async (nameArg: string | undefined, o: { passwordStdin?: boolean }) => {
      const c = ctx();
      const stored = getCredentials(readConfig(c.configFile), c.server.key);
      const name = nameArg ?? stored?.username;
      if (!name) throw new CliError('whose password?', 'INVALID_ARGUMENT', 'name the user, or `stevedore login` first');
      const password = await passwordFromStdin(c, o.passwordStdin, 'a new password');
      await c.api.call('updateUser', `/api/v1/users/${enc(name)}`, { json: { password } });
      // Your own: the stored credentials would no longer work.
      if (stored && stored.username === name)
        writeConfig(c.configFile, setCredentials(readConfig(c.configFile), c.server.key, { username: name, password }));
      c.print(`Password changed for ${name}`);
    });
}

function registerRobots(program: Command, ctx: () => Context): void {
  const robot = program.command('robot').description('Manage robot accounts (scoped credentials for CI)');

  robot
    .command('create')
    .description('Create a robot; its secret is printed once, and only its hash is kept')
    .argument('<name>', 'robot name: <your user>.<name> unless you are an admin')
    .requiredOption(
      '--scope <repository:actions>',
      'REPOSITORY[:pull,push,delete,*], a namespace as NAME/* (repeatable)',
      collect,
      [] as string[],
    )
    .option('-q, --quiet', 'print only the secret')
    .addHelpText('after', '\nExample:\n  $ stevedore robot create alice.ci --scope "alice/*:pull,push"')
    .action(async (name: string, o: { scope: string[]; quiet?: boolean }) => {
      const c = ctx();
      const scopes = o.scope.map(parseScope);
      const r = await c.api.call('createRobot', '/api/v1/robots', { json: { name, scopes } });
      if (o.quiet) return c.print(r.secret);
      c.print(`Name: ${r.name}`);
      c.print(`Secret: ${r.secret}`);
      c.note('Keep the secret now: it is not shown again. Log in with: stevedore login -u NAME --password-stdin');
    });

  robot
    .command('ls')
    .alias('list')
    .description('List your robots (admins: all)')
    .addHelpText('after', '\nExample:\n  $ stevedore robot ls -q')
    .option('-q, --quiet', 'only names')
    .option('--format <template>', '"json" or a Go template: .Name .Owner .Scopes .Status .CreatedAt .CreatedSince')
    .action(async (o: { quiet?: boolean; format?: string }) => {
      const c = ctx();
      const { robots } = await c.api.call('listRobots', '/api/v1/robots');
      const now = Date.now();
      const rows = robots.map((r) => ({
        Name: r.name,
        Owner: r.owner ?? '',
        Scopes: (r.robotScopes ?? []).map((s) => `${s.repository}:${s.actions.join(',')}`).join(' '),
        Status: r.disabled ? 'disabled' : 'enabled',
        CreatedAt: r.createdAt,
        CreatedSince: timeAgo(r.createdAt, now),
      }));
      printRows(
        c,
        o,
        [
          ['Name', 'NAME'],
          ['Owner', 'OWNER'],
          ['CreatedSince', 'CREATED'],
          ['Scopes', 'SCOPES'],
        ],
        rows,
      );
    });

  robot
    .command('rm')
    .alias('remove')
    .description('Remove robots (their credentials stop working)')
    .argument('<name...>', 'robot names')
    .addHelpText('after', '\nExample:\n  $ stevedore robot rm alice.ci')
    .action(async (names: string[]) => {
      const c = ctx();
      await eachArg(c, names, async (n) => {
        await c.api.call('removeRobot', `/api/v1/robots/${enc(n)}`);
        c.print(n);
      });
    });
}

function registerUpstreams(program: Command, ctx: () => Context): void {
  const upstream = program.command('upstream').description('Manage upstream registries: pull-through sources and push targets (admins)');

  upstream
    .command('add')
    .description('Add an upstream registry')
    .argument('<url>', 'http(s)://host[:port] of the registry')
    .option('--id <id>', 'its id (lowercase letters, digits, dashes; default: a random one the server picks)')
    .option('--prefix <path>', 'repository-name path it serves for pulls, e.g. docker.io (repeatable)', collect, [] as string[])
    .option('--default', 'serve names no prefix matches, and be where `push` sends by default')
    .option('-u, --username <user>', 'user name at the upstream')
    .option('--password-stdin', 'read the upstream password from stdin (needs --username)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ stevedore upstream add https://registry-1.docker.io --id hub --prefix docker.io --default\n  $ echo "$TOKEN" | stevedore upstream add https://quay.io --id quay --prefix quay.io -u bot --password-stdin',
    )
    .action(async (url: string, o: { id?: string; prefix: string[]; default?: boolean; username?: string; passwordStdin?: boolean }) => {
      const c = ctx();
      if (o.passwordStdin && !o.username) throw new CliError('--password-stdin needs --username', 'INVALID_ARGUMENT');
      const body: UpstreamRequest = { url, prefixes: o.prefix };
      if (o.id) body.id = o.id;
      if (o.default) body.default = true;
      if (o.username) body.username = o.username;
      if (o.passwordStdin) body.password = await passwordFromStdin(c, true);
      const u = await c.api.call('createUpstream', '/api/v1/upstreams', { json: body });
      c.print(u.id);
    });

  upstream
    .command('ls')
    .alias('list')
    .description('List upstream registries')
    .addHelpText('after', '\nExample:\n  $ stevedore upstream ls')
    .option('-q, --quiet', 'only ids')
    .option('--format <template>', '"json" or a Go template: .ID .URL .Prefixes .Default .Username .CreatedAt')
    .action(async (o: { quiet?: boolean; format?: string }) => {
      const c = ctx();
      const { upstreams } = await c.api.call('listUpstreams', '/api/v1/upstreams');
      const rows = upstreams.map((u) => ({
        ID: u.id,
        URL: u.url,
        Prefixes: u.prefixes.join(',') || '-',
        Default: u.default ? 'yes' : 'no',
        Username: u.username ?? '',
        CreatedAt: u.createdAt,
      }));
      printRows(
        c,
        o,
        [
          ['ID', 'ID'],
          ['URL', 'URL'],
          ['Prefixes', 'PREFIXES'],
          ['Default', 'DEFAULT'],
          ['Username', 'USERNAME'],
        ],
        rows,
      );
    });

  upstream
    .command('rm')
    .alias('remove')
    .description('Remove upstream registries')
    .argument('<id...>', 'upstream ids')
    .addHelpText('after', '\nExample:\n  $ stevedore upstream rm hub')
    .action(async (ids: string[]) => {
      const c = ctx();
      await eachArg(c, ids, async (id) => {
        await c.api.call('removeUpstream', `/api/v1/upstreams/${enc(id)}`);
        c.print(id);
      });
    });
}

export function registerAdmin(program: Command, ctx: () => Context): void {
  registerUsers(program, ctx);
  registerRobots(program, ctx);
  registerUpstreams(program, ctx);
}
