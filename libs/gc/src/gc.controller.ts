// The admin API of storage hygiene:
//   POST /api/v1/gc {dryRun?, graceSeconds?, untaggedMaxAgeSeconds?, uploadMaxAgeSeconds?} -> 202 run
//   GET  /api/v1/gc/runs, GET /api/v1/gc/runs/:id                    -> state, progress, report
//   GET/PUT /api/v1/retention, DELETE /api/v1/retention?repository=  -> retention rules
//   GET /api/v1/quotas, GET/PUT/DELETE /api/v1/quotas/:namespace      -> quotas and usage
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { RegistryError } from '@stevedore/oci';
import { Access } from '@stevedore/platform';
import { GcQueue, type GcRunStatus } from './gc-queue';
import { parseGcRunRequest } from './gc-run';
import { RetentionStore } from './retention-store';
import { NamespaceQuotas, type NamespaceQuota } from './namespace-quotas';
import type { RetentionRule } from './retention';

// The operator's API: admins only, every route.
@Access({ role: 'admin' })
@Controller('api/v1')
export class GcController {
  constructor(
    private readonly queue: GcQueue,
    private readonly retention: RetentionStore,
    private readonly quotas: NamespaceQuotas,
  ) {}

  @Post('gc')
  @HttpCode(202)
  async run(@Body() body: unknown): Promise<GcRunStatus> {
    return this.queue.enqueue(parseGcRunRequest(body));
  }

  @Get('gc/runs')
  async runs(): Promise<{ runs: GcRunStatus[] }> {
    return { runs: await this.queue.recent() };
  }

  @Get('gc/runs/:id')
  async runStatus(@Param('id') id: string): Promise<GcRunStatus> {
    return this.queue.status(id);
  }

  @Get('retention')
  async rules(): Promise<{ rules: RetentionRule[] }> {
    return { rules: await this.retention.list() };
  }

  @Put('retention')
  async putRule(@Body() body: unknown): Promise<RetentionRule> {
    return this.retention.put(body);
  }

  @Delete('retention')
  @HttpCode(204)
  async deleteRule(@Query('repository') repository?: string): Promise<void> {
    if (!repository) throw new RegistryError('INVALID_REQUEST', 'query parameter "repository" is required');
    await this.retention.remove(repository);
  }

  @Get('quotas')
  async listQuotas(): Promise<{ quotas: NamespaceQuota[] }> {
    return { quotas: await this.quotas.list() };
  }

  @Get('quotas/:namespace')
  async getQuota(@Param('namespace') ns: string): Promise<NamespaceQuota> {
    return this.quotas.get(ns);
  }

  @Put('quotas/:namespace')
  async putQuota(@Param('namespace') ns: string, @Body() body: unknown): Promise<NamespaceQuota> {
    const limit = (body as { limitBytes?: unknown } | undefined)?.limitBytes;
    if (typeof limit !== 'number') throw new RegistryError('INVALID_REQUEST', 'body must be {"limitBytes": <bytes>}');
    return this.quotas.setLimit(ns, limit);
  }

  @Delete('quotas/:namespace')
  @HttpCode(204)
  async deleteQuota(@Param('namespace') ns: string): Promise<void> {
    await this.quotas.removeLimit(ns);
  }
}
