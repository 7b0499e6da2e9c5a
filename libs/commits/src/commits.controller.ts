// /api/v1/commits (docker commit, one at a time or as a batch) and /api/v1/jobs (the list of every
// queue's jobs; a commit or batch job's status, SSE and cancel: the other kinds keep their own status
// routes, which a list row links to).
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ListJobsQuerySchema, type AnswerOf } from '@stevedore/api-contract';
import { parseBody } from '@stevedore/images';
import { Access, callerOf, hiddenIds, ownerFor, parseQuery, type AccessRequest, type RoutePolicy } from '@stevedore/platform';
import { AccessPolicy } from '@stevedore/registry';
import { BatchSchema, CommitSpecSchema } from './commit-job';
import { CommitQueues } from './commit-queues';
import { CommitService, parseTarget } from './commit-service';
import { TERMINAL_STATES } from '@stevedore/platform';
import { jobView } from './job-status';
import { DEFAULT_PAGE, JobList, pageOf } from './job-list';

const push = (repository: string): AccessRequest => ({ type: 'repository', name: repository, actions: ['pull', 'push'] });
const readJob: RoutePolicy = { role: 'authenticated', resource: { kind: 'commit-job', action: 'read' } };

@Controller('api/v1')
export class CommitsController {
  constructor(
    private readonly commits: CommitService,
    private readonly queues: CommitQueues,
    private readonly jobList: JobList,
    private readonly policy: AccessPolicy,
  ) {}

  /** `{container, reference, author?, message?, changes?, pause?}` -> 202 with the job (200 when it existed). */
  @Post('commits')
  @Access({
    role: 'authenticated',
    repositories: (req) => [push(parseTarget(parseBody(CommitSpecSchema, req.body).reference).repository)],
    resource: { kind: 'container', action: 'content', ids: (req) => [parseBody(CommitSpecSchema, req.body).container] },
    description: "push on the target; the container is the caller's (or the caller is an admin), with pull on its image now",
  })
  async commit(
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Body() body: unknown,
  ): Promise<AnswerOf<'commit'>> {
    const spec = parseBody(CommitSpecSchema, body);
    const s = await this.commits.submit(spec, ownerFor(req));
    reply.code(s.created ? 202 : 200);
    return (await jobView(this.queues.queue, s.id)).view;
  }

  /** `{commits: [...]}` -> 202 with the batch job (a BullMQ flow) and its children's job ids. */
  @Post('commits::batch')
  @HttpCode(202)
  @Access({
    role: 'authenticated',
    repositories: (req) => [...new Set(parseBody(BatchSchema, req.body).commits.map((c) => parseTarget(c.reference).repository))].map(push),
    resource: {
      kind: 'container',
      action: 'content',
      ids: (req) => parseBody(BatchSchema, req.body).commits.map((c) => c.container),
      perItem: true,
    },
    description: 'as a commit, for each; a container the caller may not see is rejected as a missing one',
  })
  async batch(@Req() req: FastifyRequest, @Body() body: unknown): Promise<AnswerOf<'commitBatch'>> {
    const { commits } = parseBody(BatchSchema, body);
    const owner = ownerFor(req);
    const b = await this.commits.submitBatch(commits, { hidden: hiddenIds(req), ...(owner ? { owner } : {}) });
    return { ...b, links: { self: `/api/v1/jobs/${b.id}`, events: `/api/v1/jobs/${b.id}/events` } };
  }

  /**
   * Every queue's jobs, newest first, `?n=&last=` pages, `?state=` and `?kind=` (comma lists) filter.
   * As Harbor shows an admin every project's jobs, an admin sees everyone's by default (`?owner=`
   * narrows to one user's); anyone else sees only their own.
   */
  @Get('jobs')
  @Access({ role: 'authenticated', lists: "jobs the caller owns (admins: everyone's, ?owner= narrows)" })
  async list(@Req() req: FastifyRequest, @Query() query: unknown): Promise<AnswerOf<'listJobs'>> {
    const q = parseQuery(ListJobsQuerySchema, query);
    const c = callerOf(req);
    // Not an admin: only their own; `owner` naming someone else narrows that to nothing.
    if (!c.admin && (!c.actsFor || (q.owner !== undefined && q.owner !== c.actsFor))) return { items: [] };
    const owner = c.admin ? q.owner : c.actsFor;
    const rows = await this.jobList.rows({ state: q.state, kind: q.kind, owner });
    // A robot's or token's view asks for pull on each job's repositories: once per set of them.
    const seen = new Map<string, boolean>();
    const shown = [];
    for (const r of rows) {
      const key = `${r.summary.owner ?? ''}\0${r.repositories.join('\0')}`;
      let sees = seen.get(key);
      if (sees === undefined) seen.set(key, (sees = await this.policy.sees(req, { owner: r.summary.owner, repositories: r.repositories })));
      if (sees) shown.push(r);
    }
    return pageOf(shown, q.n ? Number(q.n) : DEFAULT_PAGE, q.last);
  }

  @Get('jobs/:id')
  @Access(readJob)
  async status(@Param('id') id: string): Promise<AnswerOf<'job'>> {
    return (await jobView(this.queues.queue, id)).view;
  }

  @Delete('jobs/:id')
  @HttpCode(202)
  @Access({ role: 'authenticated', resource: { kind: 'commit-job', action: 'change' } })
  async cancel(@Param('id') id: string): Promise<AnswerOf<'cancelJob'>> {
    return { id, state: await this.commits.cancel(id) };
  }

  /** Server-sent events: `status` first, `progress` as the worker reports, then `completed` or `failed`. */
  @Get('jobs/:id/events')
  @Access(readJob)
  async events(@Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    const first = (await jobView(this.queues.queue, id)).view;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown) => raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    let closed = false;
    const events = this.queues.events;
    const finish = async () => {
      if (closed) return;
      closed = true;
      cleanup();
      const v = await jobView(this.queues.queue, id).then(
        (r) => r.view,
        () => undefined,
      );
      if (v) send(v.state === 'completed' ? 'completed' : v.state === 'failed' ? 'failed' : 'status', v);
      raw.end();
    };
    const onProgress = (a: { jobId: string; data: unknown }) => a.jobId === id && send('progress', a.data);
    const onDone = (a: { jobId: string }) => a.jobId === id && void finish();
    const poll = setInterval(() => {
      void jobView(this.queues.queue, id).then(
        (r) => {
          if (TERMINAL_STATES.has(r.view.state)) void finish();
        },
        () => void finish(),
      );
    }, 2000);
    const ping = setInterval(() => raw.write(': ping\n\n'), 15_000);
    const cleanup = () => {
      clearInterval(poll);
      clearInterval(ping);
      events.off('progress', onProgress as never);
      events.off('completed', onDone as never);
      events.off('failed', onDone as never);
    };
    raw.on('close', () => {
      closed = true;
      cleanup();
    });
    events.on('progress', onProgress as never);
    events.on('completed', onDone as never);
    events.on('failed', onDone as never);
    send('status', first);
    if (TERMINAL_STATES.has(first.state)) await finish();
  }
}
