// Containers (an image plus an empty read-write layer on the server): create, ls, rm, inspect,
// cp in and out (tar streams), diff, pause, unpause.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { Change, Container } from '@stevedore/api-contract';
import { parseCopyEndpoint } from '../args';
import type { Context } from '../context';
import { CliError, eachArg } from '../errors';
import { compileTemplate } from '../format-template';
import { shortId, table, timeAgo } from '../output';
import { extractTar, packPath } from '../tar-fs';

/** One `diff` line as docker prints it: `A /path`, `C /path`, `D /path` (the server's kind letters are docker's). */
export function diffLine(change: Change): string {
  return `${change.kind} ${change.path}`;
}

function parseCount(v: string): number {
  if (!/^[0-9]+$/.test(v)) throw new CliError(`invalid argument "${v}" for "-n, --last" flag: not a number`, 'INVALID_ARGUMENT');
  return Number(v);
}

/**
 * A `docker ps` row. Nothing runs here, so a container is `Created` (Docker's word for one that never
 * started) or `Paused` while a commit or a user holds it; there is no command and no ports.
 */
export function containerRow(x: Container, truncate = true) {
  const status = x.state === 'paused' ? 'Paused' : 'Created';
  return {
    ID: truncate ? shortId(x.id) : x.id,
    Image: x.image.reference,
    Command: '',
    CreatedAt: x.createdAt,
    RunningFor: timeAgo(x.createdAt),
    CreatedSince: timeAgo(x.createdAt),
    Status: status,
    State: x.state === 'paused' ? 'paused' : 'created',
    Names: x.name ?? '',
    Name: x.name ?? '',
  };
}

export function registerContainers(program: Command, ctx: () => Context): void {
  const container = program.command('container').description('Manage containers (an image with a read-write layer on the server)');

  container
    .command('create')
    .description('Create a new container')
    .option('--name <string>', 'Assign a name to the container (default: generated, like busy_hopper)')
    .argument('<image>', 'image reference')
    .addHelpText('after', '\nExamples:\n  $ stevedore container create --name bh busybox:latest\n  $ stevedore create busybox')
    .action(async (image: string, o: { name?: string }) => {
      const c = ctx();
      const created = await c.api.createContainer(o.name, await c.resolveImage(image, { defaultTag: true }));
      // Docker prints the full ID.
      c.print(created.id);
    });

  container
    .command('ls')
    .alias('list')
    .description('List containers')
    .option('-a, --all', 'Show all containers (they all are: none runs, each is an image and a read-write layer)')
    .option('-q, --quiet', 'Only display container IDs')
    .option('--no-trunc', "Don't truncate output")
    .option('-n, --last <int>', 'Show n last created containers', parseCount)
    .option('-l, --latest', 'Show the latest created container')
    .option('--json', 'JSON')
    .option('--format <string>', 'Go template per container: .ID .Image .Command .CreatedAt .RunningFor .Status .State .Names')
    .addHelpText('after', '\nExamples:\n  $ stevedore ps -a\n  $ stevedore container ls --format "{{.Names}} {{.Status}}"')
    .action(async (o: { quiet?: boolean; trunc?: boolean; last?: number; latest?: boolean; json?: boolean; format?: string }) => {
      const c = ctx();
      // Newest first, as docker ps.
      let items = [...(await c.api.listContainers())].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      const keep = o.latest ? 1 : o.last;
      if (keep !== undefined) items = items.slice(0, keep);
      if (o.json) return c.print(JSON.stringify(items, null, 2));
      const rows = items.map((x) => containerRow(x, o.trunc !== false));
      if (o.quiet) return rows.forEach((r) => c.print(r.ID));
      if (o.format) {
        const t = compileTemplate(o.format);
        return rows.forEach((r) => c.print(t(r)));
      }
      c.io.stdout.write(
        table(
          ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
          rows.map((r) => [r.ID, r.Image, r.Command, r.RunningFor, r.Status, '', r.Names]),
        ),
      );
    });

  container
    .command('inspect')
    .description('Show containers as JSON')
    .argument('<name...>', 'containers')
    .option('-f, --format <template>', 'Go template')
    .action(async (names: string[], o: { format?: string }) => {
      const c = ctx();
      const t = o.format ? compileTemplate(o.format) : undefined;
      const out: unknown[] = [];
      await eachArg(c, names, async (n) => {
        const x = await c.api.inspectContainer(n);
        if (t) c.print(t(x));
        else out.push(x);
      });
      if (!t) c.print(JSON.stringify(out, null, 4));
    });

  container
    .command('rm')
    .description('Remove containers (their read-write layers are discarded)')
    .argument('<name...>', 'containers')
    .option('-f, --force', 'remove even when paused')
    .addHelpText('after', '\nExample:\n  $ stevedore container rm bh')
    .action(async (names: string[], o: { force?: boolean }) => {
      const c = ctx();
      await eachArg(c, names, async (n) => {
        await c.api.removeContainer(n, !!o.force);
        c.print(n);
      });
    });

  program
    .command('cp')
    .description('Copy files or directories between the local disk and a container')
    .argument('<src>', 'LOCAL_PATH or CONTAINER:PATH')
    .argument('<dest>', 'CONTAINER:PATH or LOCAL_PATH (- for a tar on stdout)')
    .addHelpText(
      'after',
      '\nA destination ending in / is a directory to copy into; otherwise the copy gets that name.\n\nExamples:\n  $ stevedore cp ./index.html bh:/home/html/index.html\n  $ stevedore cp ./site bh:/home/html/\n  $ stevedore cp bh:/etc/passwd ./passwd',
    )
    .action(async (srcArg: string, destArg: string) => {
      const c = ctx();
      const src = parseCopyEndpoint(srcArg);
      const dest = parseCopyEndpoint(destArg);
      if (src.container && dest.container)
        throw new CliError('copying between two containers is not supported', 'INVALID_ARGUMENT', 'copy to the local disk first');
      if (!src.container && !dest.container) throw new CliError('one of SRC and DEST must be CONTAINER:PATH', 'INVALID_ARGUMENT');
      if (dest.container) {
        if (!existsSync(src.path)) throw new CliError(`${src.path}: no such file or directory`, 'ENOENT', 'check the local path');
        const intoDir = dest.path.endsWith('/');
        const as = intoDir ? path.basename(path.resolve(src.path)) : path.posix.basename(dest.path);
        const parent = intoDir ? dest.path : path.posix.dirname(dest.path);
        if (!as || as === '/') throw new CliError(`cannot copy onto ${dest.path}`, 'INVALID_ARGUMENT', 'name a path below /');
        await c.api.http.prime();
        // Entry names carry the destination path: the server applies the tar as an upper layer at /.
        const rooted = path.posix.join(parent, as).replace(/^\/+/, '');
        await c.api.putArchive(dest.container, () => packPath(src.path, rooted));
        return;
      }
      await c.api.http.prime();
      const archive = c.api.getArchive(src.container as string, src.path);
      if (dest.path === '-') {
        await pipeline(archive, c.io.stdout, { end: false });
        return;
      }
      const isDir = existsSync(dest.path) && statSync(dest.path).isDirectory();
      if (isDir) await extractTar(archive, dest.path);
      else await extractTar(archive, path.dirname(path.resolve(dest.path)), path.basename(dest.path));
    });

  program
    .command('diff')
    .description("List the container's changes against its image: A added, C changed, D deleted")
    .argument('<name>', 'container')
    .addHelpText('after', '\nExample:\n  $ stevedore diff bh')
    .action(async (name: string) => {
      const c = ctx();
      for (const ch of await c.api.changes(name)) c.print(diffLine(ch));
    });

  for (const verb of ['pause', 'unpause'] as const) {
    program
      .command(verb)
      .description(
        verb === 'pause' ? 'Pause containers: writes are refused until unpaused (a consistent state to commit)' : 'Unpause containers',
      )
      .argument('<name...>', 'containers')
      .addHelpText('after', `\nExample:\n  $ stevedore ${verb} bh`)
      .action(async (names: string[]) => {
        const c = ctx();
        await eachArg(c, names, async (n) => {
          await (verb === 'pause' ? c.api.pause(n) : c.api.unpause(n));
          c.print(n);
        });
      });
  }
}
