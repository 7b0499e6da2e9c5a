// The management API of upstreams and replication (admin only):
//   GET/POST /api/v1/upstreams, GET/PUT/DELETE /api/v1/upstreams/:id
//   POST /api/v1/replications {source, target: {upstream, name, tag?}} -> 202 {id}; GET /api/v1/replications/:id
//   GET/POST /api/v1/replication-rules, DELETE /api/v1/replication-rules/:id
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import type { AnswerOf } from '@stevedore/api-contract';
import { Access } from '@stevedore/platform';
import { viewOf } from './upstream';
import { UpstreamStore } from './upstream-store';
import { ReplicationRuleStore } from './replication-rules';
import { ReplicationQueue, replicateRequest } from './replication-queue';

// The operator's API: admins only, every route.
@Access({ role: 'admin' })
@Controller('api/v1')
export class UpstreamsController {
  constructor(
    @Inject(UpstreamStore) private readonly upstreams: UpstreamStore,
    @Inject(ReplicationRuleStore) private readonly rules: ReplicationRuleStore,
    @Inject(ReplicationQueue) private readonly queue: ReplicationQueue,
  ) {}

  @Get('upstreams')
  async list(): Promise<AnswerOf<'listUpstreams'>> {
    return { upstreams: (await this.upstreams.list()).map(viewOf) };
  }

  @Post('upstreams')
  @HttpCode(201)
  async create(@Body() body: unknown): Promise<AnswerOf<'createUpstream'>> {
    return viewOf(await this.upstreams.create(body));
  }

  @Get('upstreams/:id')
  async get(@Param('id') id: string): Promise<AnswerOf<'getUpstream'>> {
    return viewOf(await this.upstreams.get(id));
  }

  @Put('upstreams/:id')
  async update(@Param('id') id: string, @Body() body: unknown): Promise<AnswerOf<'updateUpstream'>> {
    return viewOf(await this.upstreams.update(id, body));
  }

  @Delete('upstreams/:id')
  @HttpCode(204)
  async remove(@Param('id') id: string): Promise<void> {
    await this.upstreams.delete(id);
  }

  @Post('replications')
  @HttpCode(202)
  async replicate(@Body() body: unknown): Promise<AnswerOf<'replicate'>> {
    const data = replicateRequest(body);
    await this.upstreams.get(data.target.upstream);
    return { id: await this.queue.enqueue(data) };
  }

  @Get('replications/:id')
  async status(@Param('id') id: string): Promise<AnswerOf<'replication'>> {
    return this.queue.status(id);
  }

  @Get('replication-rules')
  async listRules(): Promise<AnswerOf<'listReplicationRules'>> {
    return { rules: await this.rules.list() };
  }

  @Post('replication-rules')
  @HttpCode(201)
  async createRule(@Body() body: unknown): Promise<AnswerOf<'createReplicationRule'>> {
    const target = (body as { target?: { upstream?: unknown } } | undefined)?.target?.upstream;
    if (typeof target === 'string') await this.upstreams.get(target);
    return this.rules.create(body);
  }

  @Delete('replication-rules/:id')
  @HttpCode(204)
  async removeRule(@Param('id') id: string): Promise<void> {
    await this.rules.delete(id);
  }
}
