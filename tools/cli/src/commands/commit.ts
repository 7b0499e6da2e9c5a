// `commit` (one container, or many with --batch) as a job on the server (`jobs` waits for, lists and
// cancels jobs: commands/jobs.ts).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import type { AnswerOf } from '@stevedore/api-contract';
import type { CommitSpec } from '../api-client';
import { collectChange, parseLocalRef } from '../args';
import type { Context } from '../context';
import { CliError } from '../errors';
import { waitForJob } from '../jobs';
import { createProgress } from '../output';

const BatchEntry = z.object({
  container: z.string().min(1),
  reference: z.string().min(1).optional(),
  repository: z.string().min(1).optional(),
  tag: z.string().min(1).optional(),
  author: z.string().optional(),
  message: z.string().optional(),
  changes: z.array(z.string()).optional(),
  pause: z.boolean().optional(),
});
const BatchEntries = z.array(BatchEntry);

export interface CommitFlags {
  author?: string;
  message?: string;
  change?: string[];
  pause?: boolean;
}

/** One commit request for the API (the contract's CommitSpecSchema) from docker commit's arguments. */
export function commitSpec(container: string, target: string | undefined, o: CommitFlags, serverKey?: string): CommitSpec {
  // The server names every image it commits: unlike docker, an untagged commit is not possible.
  if (!target)
    throw new CliError(
      `a commit of ${container} needs a REPOSITORY[:TAG]`,
      'INVALID_ARGUMENT',
      'stevedore commit CONTAINER REPOSITORY[:TAG]',
    );
  const ref = parseLocalRef(target, serverKey, { defaultTag: true });
  if (ref.digest) throw new CliError('a commit target cannot name a digest', 'INVALID_ARGUMENT', 'write REPOSITORY[:TAG]');
  const spec: CommitSpec = { container, reference: ref.tag ? `${ref.name}:${ref.tag}` : ref.name };
  if (o.author !== undefined) spec.author = o.author;
  if (o.message !== undefined) spec.message = o.message;
  if (o.change?.length) spec.changes = o.change;
  // docker commit pauses by default; --pause=false / --no-pause turns it off.
  spec.pause = o.pause !== false;
  return spec;
}

/** Reads a batch file (JSON: an array of specs or {commits: [...]}) into API specs. */
export function parseBatchFile(text: string, serverKey?: string): CommitSpec[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CliError(
      `the batch file is not JSON: ${(e as Error).message}`,
      'INVALID_ARGUMENT',
      'write [{"container": "c1", "reference": "app:v1"}, ...]',
    );
  }
  const list = Array.isArray(json) ? json : json && typeof json === 'object' ? (json as { commits?: unknown }).commits : undefined;
  if (!Array.isArray(list)) throw new CliError('the batch file must hold an array of commits (or {"commits": [...]})', 'INVALID_ARGUMENT');
  const parsed = BatchEntries.safeParse(list);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(
      `the batch file is invalid at ${issue.path.join('.') || '(root)'}: ${issue.message}`,
      'INVALID_ARGUMENT',
      'each entry needs "container"; see `stevedore commit --help`',
    );
  }
  const entries = parsed.data;
  if (!entries.length) throw new CliError('the batch file has no commits', 'INVALID_ARGUMENT');
  return entries.map((e) => {
    const changes = (e.changes ?? []).reduce<string[]>((acc, ch) => collectChange(ch, acc), []);
    const target = e.reference ?? (e.repository ? e.repository + (e.tag ? `:${e.tag}` : '') : undefined);
    return commitSpec(e.container, target, { author: e.author, message: e.message, change: changes, pause: e.pause }, serverKey);
  });
}

type CommitJob = AnswerOf<'job'>;

/** Docker's image ID of a commit: the config digest of the server's CommitResult (not the manifest digest). */
export function imageIdOf(result: CommitJob['result']): string | undefined {
  return result && 'configDigest' in result ? result.configDigest : undefined;
}

/** One line per commit of a finished batch: the reference and its image digest, or its error. */
export function printBatch(c: Context, final: CommitJob): void {
  const items = final.result && 'items' in final.result ? final.result.items : [];
  let failed = 0;
  for (const item of items) {
    if (item.error) {
      failed++;
      c.print(`${item.reference}: Error: ${item.error.message} (${item.error.code})`);
    } else c.print(`${item.reference}: ${item.digest ?? ''}`);
  }
  if (failed) throw new CliError(`${failed} of ${items.length} commits failed`, 'JOB_FAILED');
}

async function waitCommit(c: Context, id: string, quiet: boolean, what: string): Promise<CommitJob> {
  const bar = createProgress('Committing', { quiet, bytes: true });
  return waitForJob({ status: () => c.api.job(id), events: () => c.api.jobEvents(id), progress: bar, what });
}

export function registerCommit(program: Command, ctx: () => Context): void {
  program
    .command('commit')
    .description("Create a new image from a container's changes (a job on the server)")
    .argument('[container]', 'container name')
    .argument('[repository]', 'REPOSITORY[:TAG] for the new image')
    .option('-a, --author <author>', 'author, e.g. "alex <452427904@qq.com>"')
    .option('-m, --message <message>', 'commit message')
    .option(
      '-c, --change <instruction>',
      'Dockerfile instruction: CMD ENTRYPOINT ENV EXPOSE LABEL ONBUILD USER VOLUME WORKDIR (repeatable)',
      collectChange,
      [] as string[],
    )
    .option('-p, --pause', 'pause the container during the commit (the default)')
    .option('--no-pause', 'do not pause (also --pause=false)')
    .option('--batch <file>', 'commit many: a JSON file of [{"container", "reference", "author", "message", "changes", "pause"}]')
    .option('-d, --detach', 'print the job ID and do not wait')
    .option('-q, --quiet', 'no progress')
    .addHelpText(
      'after',
      '\nExamples:\n  $ stevedore commit -a "alex <452427904@qq.com>" -c \'CMD ["/bin/httpd","-f","-h","/home/html"]\' -p bh busy_httpd:v0.2\n  $ stevedore commit --batch commits.json --detach',
    )
    .action(
      async (
        container: string | undefined,
        repository: string | undefined,
        o: CommitFlags & { batch?: string; detach?: boolean; quiet?: boolean },
      ) => {
        const c = ctx();
        if (o.batch) {
          if (container) throw new CliError('give either --batch FILE or CONTAINER, not both', 'INVALID_ARGUMENT');
          const text = o.batch === '-' ? readFileSync(0, 'utf8') : readFileSync(o.batch, 'utf8');
          const specs = parseBatchFile(text, c.server.key);
          const job = await c.api.commitBatch(specs);
          if (o.detach) return c.print(job.id);
          const final = await waitCommit(c, job.id, !!o.quiet, `batch of ${specs.length} commits`);
          return printBatch(c, final);
        }
        if (!container) throw new CliError('a container is needed', 'INVALID_ARGUMENT', 'stevedore commit CONTAINER [REPOSITORY[:TAG]]');
        const spec = commitSpec(container, repository, o, c.server.key);
        const job = await c.api.commit(spec);
        if (o.detach) return c.print(job.id);
        const final = job.state === 'completed' && job.result ? job : await waitCommit(c, job.id, !!o.quiet, `commit of ${container}`);
        c.print(imageIdOf(final.result) ?? '');
      },
    );
}
