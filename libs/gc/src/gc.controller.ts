// The admin API of storage hygiene:
//   POST /api/v1/gc {dryRun?, graceSeconds?, untaggedMaxAgeSeconds?, uploadMaxAgeSeconds?} -> 202 run
//   GET  /api/v1/gc/runs, GET /api/v1/gc/runs/:id                    -> state, progress, report
//   GET/PUT /api/v1/retention, DELETE /api/v1/retention?repository=  -> retention rules
//   GET /api/v1/quotas, GET/PUT/DELETE /api/v1/quotas/:namespace      -> quotas and usage
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RegistryError } from '@stevedore/oci';
import { CONFIG, type StevedoreConfig } from '@stevedore/platform';
import type { AccessGuard } from '@stevedore/registry';
import { GcQueue, type GcRunStatus } from './gc-queue';
import { parseGcRunRequest } from './gc-run';
import { RetentionStore } from './retention-store';
import { NamespaceQuotas, type NamespaceQuota } from './namespace-quotas';
import type { RetentionRule } from './retention';

export const GC_ACCESS_GUARD = Symbol('GcAccessGuard');

@Controller('api/v1')
export class GcController {
  constructor(
    private readonly queue: GcQueue,
    private readonly retention: RetentionStore,
    private readonly quotas: NamespaceQuotas,
    @Inject(CONFIG) private readonly config: StevedoreConfig,
    @Inject(GC_ACCESS_GUARD) private readonly guard: AccessGuard | null,
  ) {}

  /** Admin only: a registry-scope check the auth lib grants to admins alone. */
  private async admin(req: FastifyRequest): Promise<void> {
    if (this.guard) return this.guard.check(req, { type: 'registry', name: 'gc', actions: ['*'] });
    if (this.config.STEVEDORE_AUTH) throw new RegistryError('UNAUTHORIZED', 'the GC API needs authentication, which is not wired into this process');
  }

  @Post('gc')
  @HttpCode(202)
  async run(@Req() req: FastifyRequest, @Body() body: unknown): Promise<GcRunStatus> {
    await this.admin(req);
    return this.queue.enqueue(parseGcRunRequest(body));
  }

  @Get('gc/runs')
  async runs(@Req() req: FastifyRequest): Promise<{ runs: GcRunStatus[] }> {
    await this.admin(req);
    return { runs: await this.queue.recent() };
  }

  @Get('gc/runs/:id')
  async runStatus(@Req() req: FastifyRequest, @Param('id') id: string): Promise<GcRunStatus> {
    await this.admin(req);
    return this.queue.status(id);
  }

  @Get('retention')
  async rules(@Req() req: FastifyRequest): Promise<{ rules: RetentionRule[] }> {
    await this.admin(req);
    return { rules: await this.retention.list() };
  }

  @Put('retention')
  async putRule(@Req() req: FastifyRequest, @Body() body: unknown): Promise<RetentionRule> {
    await this.admin(req);
    return this.retention.put(body);
  }

  @Delete('retention')
  @HttpCode(204)
  async deleteRule(@Req() req: FastifyRequest, @Query('repository') repository?: string): Promise<void> {
    await this.admin(req);
    if (!repository) throw new RegistryError('INVALID_REQUEST', 'query parameter "repository" is required');
    await this.retention.remove(repository);
  }

  @Get('quotas')
  async listQuotas(@Req() req: FastifyRequest): Promise<{ quotas: NamespaceQuota[] }> {
    await this.admin(req);
    return { quotas: await this.quotas.list() };
  }

  @Get('quotas/:namespace')
  async getQuota(@Req() req: FastifyRequest, @Param('namespace') ns: string): Promise<NamespaceQuota> {
    await this.admin(req);
    return this.quotas.get(ns);
  }

  @Put('quotas/:namespace')
  async putQuota(@Req() req: FastifyRequest, @Param('namespace') ns: string, @Body() body: unknown): Promise<NamespaceQuota> {
    await this.admin(req);
    const limit = (body as { limitBytes?: unknown } | undefined)?.limitBytes;
    if (typeof limit !== 'number') throw new RegistryError('INVALID_REQUEST', 'body must be {"limitBytes": <bytes>}');
    return this.quotas.setLimit(ns, limit);
  }

  @Delete('quotas/:namespace')
  @HttpCode(204)
  async deleteQuota(@Req() req: FastifyRequest, @Param('namespace') ns: string): Promise<void> {
    await this.admin(req);
    await this.quotas.removeLimit(ns);
  }
}
