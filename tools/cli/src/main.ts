// The `stevedore` command: Docker's verbs against a Stevedore platform.
import { Command, CommanderError } from 'commander';
import { normalizeBooleanFlags } from './args';
import { registerAdmin } from './commands/admin';
import { registerArchive } from './commands/archive';
import { registerAuth } from './commands/auth';
import { registerCommit } from './commands/commit';
import { registerContainers } from './commands/containers';
import { registerImages } from './commands/images';
import { registerJobs } from './commands/jobs';
import { registerManagementForms } from './commands/management';
import { registerRegistry } from './commands/registry';
import { Context, type Io } from './context';
import { formatError } from './errors';
import { closeConnections } from './http-client';

export function buildProgram(io: Io): { program: Command; context: () => Context } {
  const program = new Command('stevedore');
  program
    .description('Docker verbs (login, tag, commit, inspect, save, load, push, pull) against a Stevedore platform')
    .version('0.1.0', '-v, --version')
    .option('-H, --host <url>', 'platform address (env STEVEDORE_HOST; default http://127.0.0.1:5000)')
    .option('--config <file>', 'credentials file (env STEVEDORE_CONFIG; default ~/.stevedore/config.json)')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();
  let context: Context | undefined;
  const ctx = () => (context ??= new Context(io, program.opts()));
  registerAuth(program, ctx);
  registerImages(program, ctx);
  registerArchive(program, ctx);
  registerContainers(program, ctx);
  registerCommit(program, ctx);
  registerRegistry(program, ctx);
  registerJobs(program, ctx);
  registerAdmin(program, ctx);
  registerManagementForms(program);
  // Every subcommand reports errors through the same path and exits rather than printing twice.
  const walk = (c: Command) => {
    c.exitOverride();
    c.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    c.commands.forEach(walk);
  };
  program.commands.forEach(walk);
  return { program, context: ctx };
}

/** Runs the CLI; resolves to the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  const { program } = buildProgram(io);
  try {
    await program.parseAsync(normalizeBooleanFlags(argv, ['pause']), { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its message (or the help / version, exit 0).
      return e.exitCode;
    }
    io.stderr.write(formatError(e) + '\n');
    return (e as { exitCode?: number }).exitCode || 1;
  }
}

export function main(): void {
  const io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
  // A reader that goes away (`stevedore images | head`) ends the output, as for any Unix tool.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(0);
  });
  run(process.argv.slice(2), io).then(
    async (code) => {
      process.exitCode = code;
      // Keep-alive sockets would hold the process open for seconds after the last request.
      await closeConnections();
    },
    (e: unknown) => {
      process.stderr.write(formatError(e) + '\n');
      process.exitCode = 1;
    },
  );
}

if (require.main === module) main();
