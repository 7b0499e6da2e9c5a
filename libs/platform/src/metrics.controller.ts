// GET /metrics in the Prometheus text format.
import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { StevedoreMetrics } from './metrics';
import { Access } from './access-policy';

@Controller()
export class MetricsController {
  constructor(@Inject(StevedoreMetrics) private readonly metrics: StevedoreMetrics) {}

  @Get('metrics')
  @Access({ role: 'metrics', description: 'open, or the bearer token STEVEDORE_METRICS_TOKEN when it is set' })
  async metricsText(@Res() reply: FastifyReply): Promise<void> {
    reply.header('content-type', this.metrics.registry.contentType).send(await this.metrics.render());
  }
}
