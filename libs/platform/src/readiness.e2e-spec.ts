// /healthz and /readyz of a real platform (PlatformModule on a real redis-server and filesystem
// storage, a BullMQ worker registered as the workers register theirs): /readyz follows Redis, the
// the worker's own connection down and back up; /healthz answers through all of it,
// since liveness is the process only (Kubernetes restarts a pod whose liveness fails).
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Worker } from 'bullmq';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedis, waitFor, type RunningRedis } from '@stevedore/testing';
import { loadConfig } from './config';
import { ReadinessChecks } from './health.controller';
import { PlatformModule } from './platform.module';
import { startWorker } from './queues';

jest.setTimeout(60_000);

describe('/healthz and /readyz', () => {
  let redis: RunningRedis;
  let app: NestFastifyApplication;
  let worker: Worker;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'readyz-'));

  beforeAll(async () => {
    redis = await startRedis();
    const config = loadConfig({ REDIS_URL: redis.url, STEVEDORE_DATA_DIR: dataDir, STEVEDORE_REDIS_PREFIX: 'readyz-test' });
    app = await NestFactory.create<NestFastifyApplication>(PlatformModule.forRoot(config), new FastifyAdapter(), { logger: false });
    await app.init();
    // As every worker registers: startWorker names its readiness check after the queue.
    worker = startWorker(config, 'gc', async () => ({}) as never, { log: { warn: () => undefined }, readiness: app.get(ReadinessChecks) });
    await worker.waitUntilReady();
  });

  afterAll(async () => {
    await worker?.close(true).catch(() => undefined);
    await app?.close().catch(() => undefined);
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const get = async (url: string): Promise<{ status: number; body: { status: string; info?: object; error?: object } }> => {
    const r = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url });
    return { status: r.statusCode, body: r.json() };
  };
  const down = (body: { error?: object }): string[] => Object.keys(body.error ?? {}).sort();

  it('ready with Redis, storage and the worker up; not ready (503, naming what is down) without Redis; alive throughout', async () => {
    let r = await get('/readyz');
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.info ?? {}).sort()).toEqual(['gc-queue', 'redis', 'storage']);
    expect((await get('/healthz')).status).toBe(200);

    // Redis gone: the index connection and the worker's own connection are both down.
    const port = redis.port;
    await redis.stop();
    const t = Date.now();
    r = await get('/readyz');
    expect(Date.now() - t).toBeLessThan(5000); // within the probe's timeoutSeconds (6)
    expect(r.status).toBe(503);
    expect(down(r.body)).toEqual(['gc-queue', 'redis']);
    expect((await get('/healthz')).status).toBe(200);

    // Redis back on the same port: ready again, the worker's connection included.
    redis = await startRedis({ port });
    await waitFor(async () => (await get('/readyz')).status === 200, 20_000);

    // The worker's own connection lost while the index connection is fine: not ready either.
    (await worker.getBackend().client).disconnect();
    r = await get('/readyz');
    expect(r.status).toBe(503);
    expect(down(r.body)).toEqual(['gc-queue']);
    expect((await get('/healthz')).status).toBe(200);
  });
});
