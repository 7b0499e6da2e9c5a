// The management API of upstreams and replication (admin only):
//   GET/POST /api/v1/upstreams, GET/PUT/DELETE /api/v1/upstreams/:id
//   POST /api/v1/replications {source, target: {upstream, name, tag?}} -> 202 {id}; GET /api/v1/replications/:id
//   GET/POST /api/v1/replication-rules, DELETE /api/v1/replication-rules/:id
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import { Access } from '@stevedore/platform';
import { viewOf, type UpstreamView } from './upstream';
import { UpstreamStore } from './upstream-store';
import { ReplicationRuleStore, type ReplicationRule } from './replication-rules';
import { ReplicationQueue, replicateRequest, type ReplicationStatus } from './replication-queue';

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
  async list(): Promise<{ upstreams: UpstreamView[] }> {
    return { upstreams: (await this.upstreams.list()).map(viewOf) };
  }

  @Post('upstreams')
  @HttpCode(201)
  async create(@Body() body: unknown): Promise<UpstreamView> {
    return viewOf(await this.upstreams.create(body));
  }

  @Get('upstreams/:id')
  async get(@Param('id') id: string): Promise<UpstreamView> {
    return viewOf(await this.upstreams.get(id));
  }

  @Put('upstreams/:id')
  async update(@Param('id') id: string, @Body() body: unknown): Promise<UpstreamView> {
    return viewOf(await this.upstreams.update(id, body));
  }

  @Delete('upstreams/:id')
  @HttpCode(204)
  async remove(@Param('id') id: string): Promise<void> {
    await this.upstreams.delete(id);
  }

  @Post('replications')
  @HttpCode(202)
  async replicate(@Body() body: unknown): Promise<{ id: string }> {
    const data = replicateRequest(body);
    await this.upstreams.get(data.target.upstream);
    return { id: await this.queue.enqueue(data) };
  }

  @Get('replications/:id')
  async status(@Param('id') id: string): Promise<ReplicationStatus> {
    return this.queue.status(id);
  }

  @Get('replication-rules')
  async listRules(): Promise<{ rules: ReplicationRule[] }> {
    return { rules: await this.rules.list() };
  }

  @Post('replication-rules')
  @HttpCode(201)
  async createRule(@Body() body: unknown): Promise<ReplicationRule> {
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
