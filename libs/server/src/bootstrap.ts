// Starting a Stevedore process: validated config, Fastify with streaming body parsers, the one
// error filter, the modules of the target. Used by every app's main.ts and by the e2e tests.
import 'reflect-metadata';
import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import {
  acceptRequestId,
  loadConfig,
  loggingModule,
  serverErrorLogger,
  PlatformModule,
  REQUEST_ID_HEADER,
  RegistryExceptionFilter,
  runWithRequestId,
  StevedoreMetrics,
  REDIS,
  RedisKeys,
  STORAGE,
  redactRedisUrl,
  checkInstance,
  claimInstance,
  type StevedoreConfig,
  type Target,
} from '@stevedore/platform';
import type Redis from 'ioredis';
import type { StorageDriver } from '@stevedore/storage';
import { BlobsModule } from '@stevedore/blobs';
import { METADATA_SERVICE, MetadataModule, type MetadataService } from '@stevedore/metadata';
import { AccessPolicyModule, RoutePolicyTable, unguardedRoutes } from '@stevedore/registry';
import { modulesFor } from './targets';
import { announceListening, isPrimaryOfGroup, processCount, runPrimary } from './cluster';
import { serveApiDocs } from './openapi';
import { mountQueueDashboard } from './queue-dashboard';
import { serveWebUi } from './web-ui';

export interface RunningServer {
  app: INestApplication;
  config: StevedoreConfig;
  url: string;
  close(): Promise<void>;
}

function rootModule(config: StevedoreConfig, modules: DynamicModule[]): DynamicModule {
  @Module({})
  class StevedoreRoot {}
  return { module: StevedoreRoot, imports: [loggingModule(config), PlatformModule.forRoot(config), AccessPolicyModule, ...modules] };
}

export async function startServer(env: Record<string, string | undefined> = process.env, target?: Target): Promise<RunningServer> {
  const config = loadConfig(target ? { ...env, STEVEDORE_TARGET: target } : env);
  const adapter = new FastifyAdapter({
    bodyLimit: 1024 * 1024,
    // Large layer uploads can be slow; the default 5 s request timeouts of proxies are not ours.
    requestTimeout: 0,
    routerOptions: { maxParamLength: 1024 },
    return503OnClosing: true,
    // Only the proxies named may say which address and scheme the client used.
    ...(config.STEVEDORE_TRUSTED_PROXIES ? { trustProxy: config.STEVEDORE_TRUSTED_PROXIES } : {}),
    requestIdHeader: REQUEST_ID_HEADER,
    genReqId: (req: { headers: Record<string, unknown> }) => acceptRequestId(req.headers[REQUEST_ID_HEADER]),
  });
  // Every route served, whoever registers it: start-up refuses one that no policy covers.
  const served: Array<{ method: string; url: string }> = [];
  adapter.getInstance().addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) served.push({ method: String(method), url: r.url ?? r.path });
  });
  // Every request runs inside its request id's context, so internal calls and jobs carry it on.
  adapter.getInstance().addHook('onRequest', (req, reply, done) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    runWithRequestId(req.id, done);
  });
  const app = await NestFactory.create<NestFastifyApplication>(rootModule(config, modulesFor(config.STEVEDORE_TARGET, config)), adapter, {
    // Nothing is logged until the pino logger is in place: a start-up failure would otherwise be
    // printed by Nest with its stack trace before runTarget prints what to do.
    logger: false,
    // Our own parsers below: registry bodies must stay streams.
    bodyParser: false,
    // A start-up failure (no Redis, bad storage) is thrown to runTarget, which prints its message
    // (what to do) instead of Nest's stack trace.
    abortOnError: false,
  });
  app.useLogger(app.get(PinoNestLogger));
  // Before any module starts (the bootstrap admin, workers): this Redis must index this storage.
  await ensureInstance(app, config).catch(async (e: Error) => {
    await app.close().catch(() => undefined);
    throw e;
  });
  const fastify = app.getHttpAdapter().getInstance();
  // Registry bodies (blobs, manifests) stay streams: handlers read them with their own limits and
  // hash them on the way to storage. JSON stays parsed for the management API, except on /v2 where
  // a manifest may be sent as application/json and its exact bytes matter.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  fastify.addContentTypeParser('application/json', (req, payload, done) => {
    if (req.url.startsWith('/v2/') || req.url.startsWith('/internal/')) return done(null, payload);
    const chunks: Buffer[] = [];
    let size = 0;
    payload.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1024 * 1024) {
        payload.destroy();
        done(Object.assign(new Error('request body too large'), { statusCode: 413 }), undefined);
        return;
      }
      chunks.push(c);
    });
    payload.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text) return done(null, undefined);
      try {
        done(null, JSON.parse(text));
      } catch {
        done(Object.assign(new Error('request body is not valid JSON'), { statusCode: 400 }), undefined);
      }
    });
    payload.on('error', (e) => done(e, undefined));
  });
  // Request metrics by a bounded route label: the /v2 API sets its endpoint kind, Nest routes have
  // their route pattern; anything else (404s) counts as 'other'.
  const metrics = app.get(StevedoreMetrics);
  const logServerError = serverErrorLogger(config);
  fastify.addHook('onResponse', (req, reply, done) => {
    const label = (req as { routeLabel?: string }).routeLabel ?? req.routeOptions?.url ?? 'other';
    const route = label === '/v2/*' || label === '/v2' ? 'v2.unknown' : label;
    metrics.httpRequests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ route, method: req.method }, reply.elapsedTime / 1000);
    logServerError?.(req.raw, reply.raw, reply.elapsedTime);
    done();
  });
  app.useGlobalFilters(new RegistryExceptionFilter());
  if (config.STEVEDORE_TARGET === 'all' || config.STEVEDORE_TARGET === 'gateway') {
    serveApiDocs(app);
    await mountQueueDashboard(app, config);
    await serveWebUi(app);
  }
  await app.init();
  const unguarded = unguardedRoutes(served, app.get(RoutePolicyTable).routes());
  if (unguarded.length) {
    await app.close();
    throw new Error(`routes without an access policy: ${unguarded.join(', ')}`);
  }
  await app.listen(config.PORT, config.HOST);
  const address = fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  app.get(PinoNestLogger).log(`${config.STEVEDORE_TARGET} listening on ${url} (storage: ${config.STEVEDORE_STORAGE})`);
  return { app, config, url, close: () => app.close() };
}

/** Where the indexes are, for messages: the Redis URL without its password, and the prefix. */
function redisWhere(config: StevedoreConfig): string {
  return `${redactRedisUrl(config.REDIS_URL)} (prefix ${config.STEVEDORE_REDIS_PREFIX})`;
}

/**
 * Refuse a Redis that indexes another storage; adopt a Redis that indexes none. A Redis adopted for
 * a storage that already had data (Redis was lost or replaced) is rebuilt from it by the process
 * that owns the metadata, as `reindex` would.
 */
async function ensureInstance(app: INestApplication, config: StevedoreConfig): Promise<void> {
  const check = await checkInstance(app.get<StorageDriver>(STORAGE), app.get<Redis>(REDIS), app.get(RedisKeys), redisWhere(config));
  if (check.state !== 'adopted' || check.fresh) return;
  const logger = app.get(PinoNestLogger);
  if (config.STEVEDORE_TARGET !== 'all' && config.STEVEDORE_TARGET !== 'metadata-service') return;
  logger.log(`this Redis held no indexes of storage instance ${check.id}: rebuilding them from storage`);
  const r = await app.get<MetadataService>(METADATA_SERVICE, { strict: false }).reindex();
  logger.log(`indexes rebuilt: ${JSON.stringify(r)}`);
}

/**
 * `reindex`: rebuild every Redis index from storage (after Redis was lost or flushed), with the
 * in-process services of the all-in-one target; prints what it found as JSON.
 */
export async function reindex(
  env: Record<string, string | undefined> = process.env,
): Promise<Awaited<ReturnType<MetadataService['reindex']>>> {
  const config = loadConfig({ ...env, STEVEDORE_TARGET: 'all' });
  const blobs = BlobsModule.inProcess();
  const app = await NestFactory.createApplicationContext(rootModule(config, [blobs, MetadataModule.inProcess(blobs)]), { logger: false });
  try {
    const r = await app.get<MetadataService>(METADATA_SERVICE).reindex();
    // This Redis now indexes this storage (whatever it indexed before).
    await claimInstance(app.get<StorageDriver>(STORAGE), app.get<Redis>(REDIS), app.get(RedisKeys));
    return r;
  } finally {
    await app.close();
  }
}

/** main() of every app: start (or run `reindex`), or print the configuration error and exit 1. */
export function runTarget(target: Target): void {
  if (process.argv[2] === 'reindex') {
    reindex().then(
      (r) => {
        console.log(JSON.stringify(r));
        process.exit(0);
      },
      (e: Error) => {
        console.error(`stevedore reindex: ${e.message}`);
        process.exit(1);
      },
    );
    return;
  }
  let config: StevedoreConfig;
  try {
    config = loadConfig({ ...process.env, STEVEDORE_TARGET: target });
  } catch (e) {
    console.error(`stevedore ${target}: ${(e as Error).message}`);
    process.exit(1);
  }
  const processes = processCount(config);
  if (isPrimaryOfGroup(processes)) {
    runPrimary(target, processes, config.STEVEDORE_SHUTDOWN_TIMEOUT_SECONDS);
    return;
  }
  startServer(process.env, target).then(
    (server) => {
      exitOnSignals(server);
      announceListening();
    },
    (e: Error) => {
      console.error(`stevedore ${target}: ${e.message}`);
      process.exit(1);
    },
  );
}

/**
 * Bounded shutdown on SIGTERM or SIGINT: stop accepting, let in-flight requests finish for up to
 * STEVEDORE_SHUTDOWN_TIMEOUT_SECONDS, then cut the connections that are left, close Redis, queues and
 * storage (each bounded, see closeWithin) and exit. A second signal exits at once; a backstop timer
 * exits whatever is still pending, so a dead dependency can never keep the process alive.
 */
export function exitOnSignals(server: RunningServer): void {
  const logger = server.app.get(PinoNestLogger);
  const seconds = server.config.STEVEDORE_SHUTDOWN_TIMEOUT_SECONDS;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    logger.log(`${signal}: finishing in-flight requests (up to ${seconds} s), then closing`);
    const http = (server.app.getHttpAdapter().getInstance() as FastifyInstance).server;
    // Keep-alive connections with no request in flight would hold the close until the deadline.
    http.closeIdleConnections();
    const idle = setInterval(() => http.closeIdleConnections(), 200);
    idle.unref();
    setTimeout(() => {
      logger.warn(`requests still open after ${seconds} s: closing their connections`);
      http.closeAllConnections();
    }, seconds * 1000).unref();
    setTimeout(
      () => {
        logger.error('shutdown did not finish in time: exiting');
        process.exit(1);
      },
      (seconds + 5) * 1000,
    ).unref();
    server.close().then(
      () => process.exit(0),
      (e: Error) => {
        logger.error(`shutdown: ${e.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
