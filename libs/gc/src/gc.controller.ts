// The admin API of storage hygiene:
//   POST /api/v1/gc {dryRun?, graceSeconds?, untaggedMaxAgeSeconds?, uploadMaxAgeSeconds?} -> 202 run
//   GET  /api/v1/gc/runs, GET /api/v1/gc/runs/:id                    -> state, progress, report
//   GET/PUT /api/v1/retention, DELETE /api/v1/retention?repository=  -> retention rules
//   GET /api/v1/quotas, GET/PUT/DELETE /api/v1/quotas/:namespace      -> quotas and usage
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { RegistryError } from '@stevedore/oci';
import { QuotaLimitRequestSchema, apiRoutes, type AnswerOf } from '@stevedore/api-contract';
import { Access, parseQuery } from '@stevedore/platform';
import { GcQueue } from './gc-queue';
import { parseGcRunRequest } from './gc-run';
import { RetentionStore } from './retention-store';
import { NamespaceQuotas } from './namespace-quotas';

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
  async run(@Body() body: unknown): Promise<AnswerOf<'runGc'>> {
    return this.queue.enqueue(parseGcRunRequest(body));
  }

  @Get('gc/runs')
  async runs(): Promise<AnswerOf<'listGcRuns'>> {
    return { runs: await this.queue.recent() };
  }

  @Get('gc/runs/:id')
  async runStatus(@Param('id') id: string): Promise<AnswerOf<'gcRun'>> {
    return this.queue.status(id);
  }

  @Get('retention')
  async rules(): Promise<AnswerOf<'listRetention'>> {
    return { rules: await this.retention.list() };
  }

  @Put('retention')
  async putRule(@Body() body: unknown): Promise<AnswerOf<'putRetention'>> {
    return this.retention.put(body);
  }

  @Delete('retention')
  @HttpCode(204)
  async deleteRule(@Query() q: unknown): Promise<void> {
    await this.retention.remove(parseQuery(apiRoutes.deleteRetention.query, q).repository);
  }

  @Get('quotas')
  async listQuotas(): Promise<AnswerOf<'listQuotas'>> {
    return { quotas: await this.quotas.list() };
  }

  @Get('quotas/:namespace')
  async getQuota(@Param('namespace') ns: string): Promise<AnswerOf<'getQuota'>> {
    return this.quotas.get(ns);
  }

  @Put('quotas/:namespace')
  async putQuota(@Param('namespace') ns: string, @Body() body: unknown): Promise<AnswerOf<'putQuota'>> {
    const parsed = QuotaLimitRequestSchema.safeParse(body);
    if (!parsed.success) throw new RegistryError('INVALID_REQUEST', 'body must be {"limitBytes": <bytes>}');
    return this.quotas.setLimit(ns, parsed.data.limitBytes);
  }

  @Delete('quotas/:namespace')
  @HttpCode(204)
  async deleteQuota(@Param('namespace') ns: string): Promise<void> {
    await this.quotas.removeLimit(ns);
  }
}
