// `jobs ls|inspect|wait|cancel`: the server's jobs of every kind (commit, batch, export, import,
// replicate, gc). `ls` is docker ps for jobs: unfinished ones by default, `-a` for all, `--filter`,
// `-q`, `--format`. Commit and batch jobs have GET/DELETE /api/v1/jobs/{id}; the other kinds keep
// their own status routes, which `inspect` and `wait` find through the list (only commits and
// batches can be cancelled).
import type { Command } from 'commander';
import type { AnswerOf, JobKind, JobState, JobSummary } from '@stevedore/api-contract';
import { collect } from '../args';
import type { Context } from '../context';
import { CliError, eachArg } from '../errors';
import { compileTemplate } from '../format-template';
import { jobError, waitForJob, type JobLike } from '../jobs';
import { createProgress, table, timeAgo } from '../output';
import { imageIdOf, printBatch } from './commit';

// The contract's values, written out: the CLI loads the contract (and zod) only when it makes a
// request, so a start stays fast. `satisfies` and the checks below keep them equal to the contract's.
const JOB_KINDS = ['commit', 'batch', 'export', 'import', 'replicate', 'gc'] as const satisfies readonly JobKind[];
const JOB_STATES = [
  'waiting',
  'active',
  'completed',
  'failed',
  'delayed',
  'prioritized',
  'waiting-children',
  'unknown',
] as const satisfies readonly JobState[];
type Missing<All, Listed> = Exclude<All, Listed> extends never ? true : false;
const allKinds: Missing<JobKind, (typeof JOB_KINDS)[number]> = true;
const allStates: Missing<JobState, (typeof JOB_STATES)[number]> = true;
void allKinds;
void allStates;
const isKind = (v: string): v is JobKind => (JOB_KINDS as readonly string[]).includes(v);
const isState = (v: string): boolean => (JOB_STATES as readonly string[]).includes(v);

/** States of a job that has not finished: what `jobs ls` shows without `-a`, as docker ps shows running containers. */
export const UNFINISHED_STATES = ['active', 'waiting', 'prioritized', 'delayed', 'waiting-children'] as const;

export interface JobFilters {
  state?: string[];
  kind?: string[];
  owner?: string;
}

/** `--filter state=failed --filter kind=commit,export --filter owner=alice` as the list route's query. */
export function parseJobFilters(filters: string[]): JobFilters {
  const out: JobFilters = {};
  for (const f of filters) {
    const eq = f.indexOf('=');
    const key = eq < 0 ? f : f.slice(0, eq);
    const values = (eq < 0 ? '' : f.slice(eq + 1)).split(',').filter(Boolean);
    if (!values.length) throw new CliError(`filter "${f}" has no value`, 'INVALID_ARGUMENT', 'write --filter state=failed');
    if (key === 'state') {
      for (const v of values)
        if (!isState(v)) throw new CliError(`unknown job state "${v}"`, 'INVALID_ARGUMENT', `states: ${JOB_STATES.join(', ')}`);
      out.state = [...(out.state ?? []), ...values];
    } else if (key === 'kind') {
      for (const v of values)
        if (!isKind(v)) throw new CliError(`unknown job kind "${v}"`, 'INVALID_ARGUMENT', `kinds: ${JOB_KINDS.join(', ')}`);
      out.kind = [...(out.kind ?? []), ...values];
    } else if (key === 'owner') {
      if (values.length > 1) throw new CliError('filter owner takes one user', 'INVALID_ARGUMENT');
      out.owner = values[0];
    } else throw new CliError(`unknown filter "${key}"`, 'INVALID_ARGUMENT', 'filters: state=, kind=, owner=');
  }
  return out;
}

/** A row as `--format` templates see it (Docker's field names). */
export interface JobRowView {
  ID: string;
  Kind: string;
  State: string;
  Owner: string;
  CreatedAt: string;
  CreatedSince: string;
  FinishedAt: string;
  Description: string;
  Error: string;
}

export function jobRowView(j: JobSummary, now = Date.now()): JobRowView {
  return {
    ID: j.id,
    Kind: j.kind,
    State: j.state,
    Owner: j.owner ?? '',
    CreatedAt: j.createdAt,
    CreatedSince: timeAgo(j.createdAt, now),
    FinishedAt: j.finishedAt ?? '',
    Description: j.description,
    Error: j.error ? `${j.error.message} (${j.error.code})` : '',
  };
}

const HEADERS: Record<string, string> = {
  ID: 'JOB ID',
  Kind: 'KIND',
  State: 'STATE',
  Owner: 'OWNER',
  CreatedAt: 'CREATED AT',
  CreatedSince: 'CREATED',
  FinishedAt: 'FINISHED AT',
  Description: 'DESCRIPTION',
  Error: 'ERROR',
};

export const DEFAULT_JOBS_TABLE = 'table {{.ID}}\t{{.Kind}}\t{{.State}}\t{{.Owner}}\t{{.CreatedSince}}\t{{.Description}}';

/**
 * Rows as `docker ps --format` prints them: `table ...` aligns the tab-separated cells under
 * upper-case headers (Docker's names for the fields), `json` prints one JSON object per line, any
 * other template one line per row. Returns the text to print.
 */
export function formatJobRows(format: string, rows: JobRowView[]): string {
  if (format === 'json') return rows.map((r) => JSON.stringify(r) + '\n').join('');
  const isTable = format.startsWith('table');
  // Docker takes `\t` written out in the template as a tab.
  const body = (isTable ? format.slice('table'.length).trimStart() : format).replace(/\\t/g, '\t');
  if (!isTable) {
    const t = compileTemplate(body);
    return rows.map((r) => t(r) + '\n').join('');
  }
  const cells = body.split('\t');
  const templates = cells.map((cell) => compileTemplate(cell));
  const header = cells.map((cell) => {
    const fields = [...cell.matchAll(/\{\{\s*\.(\w+)/g)].map((m) => HEADERS[m[1]] ?? m[1].toUpperCase());
    return fields.length ? fields.join(' ') : cell.trim().toUpperCase();
  });
  return table(
    header,
    rows.map((r) => templates.map((t) => t(r))),
  );
}

/** Every page of the list route for these filters (the server pages by `n` and `last`). */
export async function listJobs(c: Context, q: JobFilters): Promise<JobSummary[]> {
  const out: JobSummary[] = [];
  let last: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const r = await c.api.call('listJobs', '/api/v1/jobs', {
      query: { n: 1000, last, state: q.state?.join(','), kind: q.kind?.join(','), owner: q.owner },
    });
    out.push(...r.items);
    if (!r.next || !r.items.length) break;
    last = r.next;
  }
  return out;
}

type AnyStatus = AnswerOf<'job'> | AnswerOf<'exportStatus'> | AnswerOf<'importStatus'> | AnswerOf<'replication'> | AnswerOf<'gcRun'>;

const enc = encodeURIComponent;

/** `KIND/ID` names a job of that kind; a bare ID is looked up (commits first, then the list). */
async function findJob(c: Context, arg: string): Promise<{ id: string; kind: JobKind }> {
  const slash = arg.indexOf('/');
  if (slash > 0) {
    const kind = arg.slice(0, slash);
    if (isKind(kind)) return { id: arg.slice(slash + 1), kind };
  }
  const rows = (await listJobs(c, {})).filter((j) => j.id === arg);
  if (rows.length === 1) return { id: arg, kind: rows[0].kind };
  if (rows.length > 1)
    throw new CliError(
      `${rows.length} jobs have the ID ${arg} (${rows.map((r) => r.kind).join(', ')})`,
      'AMBIGUOUS',
      `name one as KIND/ID, e.g. ${rows[0].kind}/${arg}`,
    );
  throw new CliError(`no such job: ${arg}`, 'NOT_FOUND', '`stevedore jobs ls -a` lists the jobs you can see');
}

function statusOf(c: Context, kind: JobKind, id: string): Promise<AnyStatus> {
  switch (kind) {
    case 'commit':
    case 'batch':
      return c.api.job(id);
    case 'export':
      return c.api.exportStatus(id);
    case 'import':
      return c.api.importStatus(id);
    case 'replicate':
      return c.api.replication(id);
    case 'gc':
      return c.api.call('gcRun', `/api/v1/gc/runs/${enc(id)}`);
  }
}

export function registerJobs(program: Command, ctx: () => Context): void {
  const jobs = program.command('jobs').description('Server-side jobs: commits, batches, save/load, pushes to upstreams, GC runs');

  jobs
    .command('ls')
    .alias('list')
    .description("List jobs, newest first (yours; an admin's: everyone's)")
    .option('-a, --all', 'show finished jobs too (default: only unfinished ones)')
    .option('-f, --filter <key=value>', 'state=STATE[,...], kind=KIND[,...], owner=USER (repeatable)', collect, [] as string[])
    .option('-q, --quiet', 'only job IDs')
    .option(
      '--format <template>',
      `"table ...", "json" or a Go template: .ID .Kind .State .Owner .CreatedAt .CreatedSince .FinishedAt .Description .Error`,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ stevedore jobs ls -a --filter state=failed\n  $ stevedore jobs ls -q --filter kind=commit\n  $ stevedore jobs ls --format "table {{.ID}}\\t{{.State}}"',
    )
    .action(async (o: { all?: boolean; filter: string[]; quiet?: boolean; format?: string }) => {
      const c = ctx();
      const filters = parseJobFilters(o.filter);
      // As docker ps: without -a only what has not finished, unless a state filter says otherwise.
      if (!o.all && !filters.state) filters.state = [...UNFINISHED_STATES];
      const items = await listJobs(c, filters);
      if (o.quiet) return items.forEach((j) => c.print(j.id));
      const now = Date.now();
      c.io.stdout.write(
        formatJobRows(
          o.format ?? DEFAULT_JOBS_TABLE,
          items.map((j) => jobRowView(j, now)),
        ),
      );
    });

  jobs
    .command('inspect')
    .description('Show jobs in detail (JSON), whatever their kind')
    .argument('<id...>', 'job ID, or KIND/ID when IDs of two kinds are the same')
    .option('-f, --format <template>', 'Go template, e.g. {{.state}}')
    .addHelpText('after', '\nExamples:\n  $ stevedore jobs inspect 3f1c...\n  $ stevedore jobs inspect --format "{{.state}}" gc/12')
    .action(async (ids: string[], o: { format?: string }) => {
      const c = ctx();
      const found: AnyStatus[] = [];
      const t = o.format ? compileTemplate(o.format) : undefined;
      await eachArg(c, ids, async (arg) => {
        const { id, kind } = await findJob(c, arg);
        const s = await statusOf(c, kind, id);
        if (t) c.print(t(s));
        else found.push(s);
      });
      if (!t) c.print(JSON.stringify(found, null, 2));
    });

  jobs
    .command('wait')
    .description('Wait for a job, then print its result (the image ID of a commit)')
    .argument('<id>', 'job ID (or KIND/ID)')
    .option('-q, --quiet', 'no progress')
    .option('--json', 'print the whole final status as JSON')
    .addHelpText('after', '\nExample:\n  $ stevedore jobs wait $(stevedore commit -d bh app:v1)')
    .action(async (arg: string, o: { quiet?: boolean; json?: boolean }) => {
      const c = ctx();
      // A commit's ID is the common case: asked for directly, without listing every job.
      const direct = await c.api.job(arg).then(
        () => ({ id: arg, kind: 'commit' as JobKind }),
        (e: unknown) => {
          if (e instanceof CliError && e.code === 'NOT_FOUND') return undefined;
          throw e;
        },
      );
      const { id, kind } = direct ?? (await findJob(c, arg));
      const commitLike = kind === 'commit' || kind === 'batch';
      const bar = createProgress(commitLike ? 'Committing' : 'Waiting', { quiet: !!o.quiet, bytes: true });
      let final: AnyStatus;
      try {
        final = await waitForJob<AnyStatus>({
          status: () => statusOf(c, kind, id),
          ...(commitLike ? { events: () => c.api.jobEvents(id) } : {}),
          progress: bar,
          what: `job ${arg}`,
        });
      } catch (e) {
        if (o.json && e instanceof CliError && e.code !== 'NOT_FOUND') c.print(JSON.stringify(await statusOf(c, kind, id), null, 2));
        throw e;
      }
      if (o.json) return c.print(JSON.stringify(final, null, 2));
      if (final.kind === 'batch') return printBatch(c, final);
      if (final.kind === 'commit') {
        const image = imageIdOf(final.result);
        if (image) return c.print(image);
        throw jobError(final as JobLike, `job ${arg}`);
      }
      c.print(`${final.id} ${final.state}`);
    });

  jobs
    .command('cancel')
    .alias('rm')
    .description('Cancel commit or batch jobs (a running commit stops at its next step)')
    .argument('<id...>', 'job IDs')
    .addHelpText('after', '\nExample:\n  $ stevedore jobs cancel $(stevedore jobs ls -q --filter kind=commit)')
    .action(async (ids: string[]) => {
      const c = ctx();
      await eachArg(c, ids, async (id) => {
        try {
          const r = await c.api.call('cancelJob', `/api/v1/jobs/${enc(id)}`);
          c.print(`${r.id}: ${r.state}`);
        } catch (e) {
          if (!(e instanceof CliError && e.code === 'NOT_FOUND')) throw e;
          // Not a commit job: say so when it is a job of another kind.
          const other = (await listJobs(c, {})).find((j) => j.id === id && j.kind !== 'commit' && j.kind !== 'batch');
          if (other) throw new CliError(`job ${id} is a ${other.kind} job: only commit and batch jobs can be cancelled`, 'UNSUPPORTED');
          throw e;
        }
      });
    });
}
