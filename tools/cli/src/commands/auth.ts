// `login` and `logout`: verify credentials the way docker does (the /v2/ challenge's realm must
// give a token for them), then keep them in config.json. Passwords are never printed or logged.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { parseServer, type Server } from '../args';
import { readConfig, removeCredentials, setCredentials, writeConfig, type Credentials } from '../config-file';
import type { Context } from '../context';
import { CliError } from '../errors';
import { basicHeader, fetchToken, undici } from '../http-client';
import { parseChallenges } from '@stevedore/oci';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks).toString('utf8');
}

async function prompt(ctx: Context, question: string, hidden: boolean): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) ctx.io.stderr.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: ctx.io.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (a) => resolve(a));
      muted = hidden;
    });
  } finally {
    rl.close();
    if (hidden) ctx.io.stderr.write('\n');
  }
}

/** Checks the credentials against the server; answers whether the server asked for any. */
export async function verifyLogin(server: Server, c: Credentials): Promise<'token' | 'basic' | 'open'> {
  const { request } = await undici();
  const probe = await request(`${server.url}/v2/`, { headers: { 'user-agent': 'stevedore-cli/0.1' } });
  await probe.body.dump();
  if (probe.statusCode === 200) return 'open';
  if (probe.statusCode !== 401)
    throw new CliError(`${server.key} answered ${probe.statusCode} on /v2/; is it a Stevedore or registry server?`, 'UNAVAILABLE');
  const challenges = parseChallenges(probe.headers['www-authenticate']);
  const bearer = challenges.find((ch) => ch.scheme === 'bearer' && ch.params['realm']);
  if (bearer) {
    await fetchToken(bearer.params['realm'], c, { service: bearer.params['service'] });
    return 'token';
  }
  const res = await request(`${server.url}/v2/`, { headers: { 'user-agent': 'stevedore-cli/0.1', authorization: basicHeader(c) } });
  await res.body.dump();
  if (res.statusCode === 200) return 'basic';
  if (res.statusCode === 401)
    throw new CliError(`wrong username or password for ${server.key}`, 'UNAUTHORIZED', 'check them and try again');
  throw new CliError(`${server.key} answered ${res.statusCode} on /v2/`, 'UNAVAILABLE');
}

export function registerAuth(program: Command, ctx: () => Context): void {
  program
    .command('login')
    .description('Log in to a Stevedore server (credentials are checked, then stored in config.json with mode 0600)')
    .argument('[server]', 'server address (default: --host)')
    .option('-u, --username <user>', 'username')
    .option('-p, --password <password>', 'password (prefer --password-stdin: arguments are visible to other users)')
    .option('--password-stdin', 'read the password from stdin')
    .addHelpText(
      'after',
      '\nExamples:\n  $ echo "$PASSWORD" | stevedore login -u alice --password-stdin\n  $ stevedore login registry.example.com:5000 -u alice',
    )
    .action(async (serverArg: string | undefined, o: { username?: string; password?: string; passwordStdin?: boolean }) => {
      const c = ctx();
      const server = serverArg ? parseServer(serverArg) : c.server;
      if (o.password !== undefined && o.passwordStdin)
        throw new CliError('--password and --password-stdin are mutually exclusive', 'INVALID_ARGUMENT');
      let username = o.username;
      if (!username) {
        if (o.passwordStdin || !c.io.stdin.isTTY) throw new CliError('a username is needed', 'INVALID_ARGUMENT', 'pass -u USER');
        username = (await prompt(c, 'Username: ', false)).trim();
      }
      let password: string;
      if (o.passwordStdin) {
        password = (await readAll(c.io.stdin)).replace(/\r?\n$/, '');
      } else if (o.password !== undefined) {
        c.note('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
        password = o.password;
      } else if (c.io.stdin.isTTY) {
        password = await prompt(c, 'Password: ', true);
      } else {
        throw new CliError('a password is needed', 'INVALID_ARGUMENT', 'pass --password-stdin and pipe it in');
      }
      if (!username || !password) throw new CliError('username and password must not be empty', 'INVALID_ARGUMENT');
      const creds = { username, password };
      const how = await verifyLogin(server, creds);
      if (how === 'open') c.note(`WARNING! ${server.key} does not ask for credentials; they are stored for when it does.`);
      writeConfig(c.configFile, setCredentials(readConfig(c.configFile), server.key, creds));
      c.print('Login Succeeded');
    });

  program
    .command('logout')
    .description('Remove stored credentials for a server')
    .argument('[server]', 'server address (default: --host)')
    .addHelpText('after', '\nExample:\n  $ stevedore logout 127.0.0.1:5000')
    .action((serverArg: string | undefined) => {
      const c = ctx();
      const server = serverArg ? parseServer(serverArg) : c.server;
      const { config, removed } = removeCredentials(readConfig(c.configFile), server.key);
      if (removed) writeConfig(c.configFile, config);
      c.print(removed ? `Removing login credentials for ${server.key}` : `Not logged in to ${server.key}`);
    });
}
