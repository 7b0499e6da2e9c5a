// /healthz: the process answers. /readyz: Redis and storage answer too (Kubernetes probes).
import { Controller, Get, Inject, Res } from '@nestjs/common';
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

@Controller()
export class HealthController {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(STORAGE) private readonly storage: StorageDriver,
  ) {}

  @Get('healthz')
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(@Res() reply: FastifyReply): Promise<void> {
    const checks: Record<string, string> = {};
    await Promise.all([
      timed(this.redis.ping(), 2000).then(
        () => (checks.redis = 'up'),
        (e: Error) => (checks.redis = `down: ${e.message}`),
      ),
      timed(this.storage.stat('readyz-probe'), 5000).then(
        () => (checks.storage = 'up'),
        (e: Error) => (checks.storage = `down: ${e.message}`),
      ),
    ]);
    const ok = Object.values(checks).every((v) => v === 'up');
    reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks });
  }
}
