// The consistency pass on demand (admins):
//   POST /api/v1/admin/consistency {dryRun?, waitSeconds?} -> 200 the finished run (what it found and
//        repaired), or 202 the run as it is when it takes longer than waitSeconds
//   GET  /api/v1/admin/consistency/runs                    -> recent runs, scheduled ones included
import { Body, Controller, Get, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ConsistencyRunRequestSchema, type AnswerOf } from '@stevedore/api-contract';
import { RegistryError } from '@stevedore/oci';
import { Access } from '@stevedore/platform';
import { ConsistencyQueue } from './consistency-queue';

@Access({ role: 'admin', description: 'the consistency pass: Redis indexes against storage' })
@Controller('api/v1/admin/consistency')
export class ConsistencyController {
  constructor(private readonly queue: ConsistencyQueue) {}

  @Post()
  async run(@Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<AnswerOf<'runConsistency'>> {
    const parsed = ConsistencyRunRequestSchema.safeParse(body ?? {});
    if (!parsed.success)
      throw new RegistryError('INVALID_REQUEST', 'invalid consistency request', {
        issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      });
    const status = await this.queue.run(parsed.data);
    reply.status(status.state === 'completed' || status.state === 'failed' ? 200 : 202);
    return status;
  }

  @Get('runs')
  async runs(): Promise<AnswerOf<'listConsistencyRuns'>> {
    return { runs: await this.queue.recent() };
  }
}
