// /healthz: the process answers. /readyz: Redis, storage and whatever else a module registered
// (workers add their queue connection) answer too. Kubernetes probes use both (@nestjs/terminus).
import { Access } from './access-policy';
import { Controller, Get, Inject, Injectable, Res, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type Redis from 'ioredis';
import type { FastifyReply } from 'fastify';
import type { StorageDriver } from '@stevedore/storage';
import { REDIS, STORAGE } from './tokens';

async function timed<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

/** Extra readiness checks registered by modules at start (e.g. a worker's queue connection). */
@Injectable()
export class ReadinessChecks {
  readonly checks = new Map<string, () => Promise<void>>();
  add(name: string, check: () => Promise<void>): void {
    this.checks.set(name, check);
  }
}

@Controller()
export class HealthController {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(STORAGE) private readonly storage: StorageDriver,
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly extra: ReadinessChecks,
  ) {}

  private indicator(key: string, probe: () => Promise<unknown>, ms = 3000): () => Promise<HealthIndicatorResult> {
    return async () => {
      const session = this.indicators.check(key);
      try {
        await timed(probe(), ms);
        return session.up();
      } catch (e) {
        return session.down({ message: (e as Error).message });
      }
    };
  }

  @Get('healthz')
  @Access({ role: 'anyone' })
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @Access({ role: 'anyone' })
  async readyz(@Res() reply: FastifyReply): Promise<void> {
    const checks = [
      this.indicator('redis', () => this.redis.ping()),
      this.indicator('storage', () => this.storage.stat('readyz-probe'), 5000),
      ...[...this.extra.checks].map(([name, fn]) => this.indicator(name, fn)),
    ];
    try {
      reply.send(await this.health.check(checks));
    } catch (e) {
      if (e instanceof ServiceUnavailableException) reply.code(503).send(e.getResponse());
      else throw e;
    }
  }
}
