// The management API of upstreams and replication (admin only):
//   GET/POST /api/v1/upstreams, GET/PUT/DELETE /api/v1/upstreams/:id
//   POST /api/v1/replications {source, target: {upstream, name, tag?}} -> 202 {id}; GET /api/v1/replications/:id
//   GET/POST /api/v1/replication-rules, DELETE /api/v1/replication-rules/:id
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RegistryError } from '@stevedore/oci';
import { CONFIG, type StevedoreConfig } from '@stevedore/platform';
import type { AccessGuard } from '@stevedore/registry';
import { viewOf, type UpstreamView } from './upstream';
import { UpstreamStore } from './upstream-store';
import { ReplicationRuleStore, type ReplicationRule } from './replication-rules';
import { ReplicationQueue, replicateRequest, type ReplicationStatus } from './replication-queue';

export const UPSTREAM_ACCESS_GUARD = Symbol('UpstreamAccessGuard');

/** Admin-only: a registry-scope check the auth lib grants to admins alone. */
async function requireAdmin(guard: AccessGuard | null, config: StevedoreConfig, req: FastifyRequest): Promise<void> {
  if (guard) return guard.check(req, { type: 'registry', name: 'upstreams', actions: ['*'] });
  // No auth wired in: allowed only where auth is switched off (private single-user machine).
  if (config.STEVEDORE_AUTH) throw new RegistryError('UNAUTHORIZED', 'the upstream API needs authentication, which is not wired into this process');
}

@Controller('api/v1')
export class UpstreamsController {
  constructor(
    @Inject(UpstreamStore) private readonly upstreams: UpstreamStore,
    @Inject(ReplicationRuleStore) private readonly rules: ReplicationRuleStore,
    @Inject(ReplicationQueue) private readonly queue: ReplicationQueue,
    @Inject(CONFIG) private readonly config: StevedoreConfig,
    @Inject(UPSTREAM_ACCESS_GUARD) private readonly guard: AccessGuard | null,
  ) {}

  @Get('upstreams')
  async list(@Req() req: FastifyRequest): Promise<{ upstreams: UpstreamView[] }> {
    await requireAdmin(this.guard, this.config, req);
    return { upstreams: (await this.upstreams.list()).map(viewOf) };
  }

  @Post('upstreams')
  @HttpCode(201)
  async create(@Req() req: FastifyRequest, @Body() body: unknown): Promise<UpstreamView> {
    await requireAdmin(this.guard, this.config, req);
    return viewOf(await this.upstreams.create(body));
  }

  @Get('upstreams/:id')
  async get(@Req() req: FastifyRequest, @Param('id') id: string): Promise<UpstreamView> {
    await requireAdmin(this.guard, this.config, req);
    return viewOf(await this.upstreams.get(id));
  }

  @Put('upstreams/:id')
  async update(@Req() req: FastifyRequest, @Param('id') id: string, @Body() body: unknown): Promise<UpstreamView> {
    await requireAdmin(this.guard, this.config, req);
    return viewOf(await this.upstreams.update(id, body));
  }

  @Delete('upstreams/:id')
  @HttpCode(204)
  async remove(@Req() req: FastifyRequest, @Param('id') id: string): Promise<void> {
    await requireAdmin(this.guard, this.config, req);
    await this.upstreams.delete(id);
  }

  @Post('replications')
  @HttpCode(202)
  async replicate(@Req() req: FastifyRequest, @Body() body: unknown): Promise<{ id: string }> {
    await requireAdmin(this.guard, this.config, req);
    const data = replicateRequest(body);
    await this.upstreams.get(data.target.upstream);
    return { id: await this.queue.enqueue(data) };
  }

  @Get('replications/:id')
  async status(@Req() req: FastifyRequest, @Param('id') id: string): Promise<ReplicationStatus> {
    await requireAdmin(this.guard, this.config, req);
    return this.queue.status(id);
  }

  @Get('replication-rules')
  async listRules(@Req() req: FastifyRequest): Promise<{ rules: ReplicationRule[] }> {
    await requireAdmin(this.guard, this.config, req);
    return { rules: await this.rules.list() };
  }

  @Post('replication-rules')
  @HttpCode(201)
  async createRule(@Req() req: FastifyRequest, @Body() body: unknown): Promise<ReplicationRule> {
    await requireAdmin(this.guard, this.config, req);
    const target = (body as { target?: { upstream?: unknown } } | undefined)?.target?.upstream;
    if (typeof target === 'string') await this.upstreams.get(target);
    return this.rules.create(body);
  }

  @Delete('replication-rules/:id')
  @HttpCode(204)
  async removeRule(@Req() req: FastifyRequest, @Param('id') id: string): Promise<void> {
    await requireAdmin(this.guard, this.config, req);
    await this.rules.delete(id);
  }
}
