// Starts Stevedore for e2e tests of any project as real processes: all-in-one, or split into blob-service,
// metadata-service and gateway, each with its own port; filesystem or S3 storage; a private Redis.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, waitFor } from './net';
import { startRedis } from './redis-server';
import { startRedisCluster, type RunningRedisCluster } from './redis-cluster';
import { platformS3Env } from './ceph-rgw';
import { useSharedS3 } from './s3-server';
import { useCredentials } from './registry-client';

const root = path.resolve(__dirname, '../../..');
const execFileP = promisify(execFile);
// The harness starts Stevedore by path, so libs/testing needs no import of the server code.
const MAIN_FOR_TESTS = path.join(root, 'libs/server/test/main-for-tests.ts');

export type Wiring = 'all' | 'split';
export type StorageKind = 'filesystem' | 's3';

export interface StevedoreUnderTest {
  url: string;
  redisUrl: string;
  /** The Redis Cluster it runs on (STEVEDORE_TEST_REDIS=cluster or StartOptions.redis), to fail a master over. */
  redisCluster?: RunningRedisCluster;
  /** Stop Redis (an outage) and start an empty one on the same port again. */
  stopRedis(): Promise<void>;
  startRedis(): Promise<void>;
  env: Record<string, string>;
  /** The bootstrap admin (STEVEDORE_ADMIN_PASSWORD is set by the harness). */
  admin: { user: string; password: string };
  /** kill -9 one process ('gateway' in split mode is the edge; 'all' the single process). */
  kill(which?: string): void;
  /** Start a killed process again with the same environment. */
  restart(which?: string): Promise<void>;
  /**
   * Stops every process and Redis, then throws if a process answered a 5xx the suite did not allow.
   * Call it last in afterAll: a throw skips what follows, and a helper left running keeps jest alive.
   */
  stop(): Promise<void>;
  /** Run `reindex` as its own process with the same environment; resolves to what it printed. */
  reindex(): Promise<Record<string, number>>;
  /** Recent output of a process (for log assertions). */
  logs(which?: string): string;
  /** The operating-system pid of a process (to count its open descriptors in /proc). */
  pid(which?: string): number;
  /** The base URL of one process (a split service's own port, behind the gateway). */
  urlOf(which?: string): string;
}

interface Proc {
  target: string;
  env: Record<string, string>;
  port: number;
  child?: ChildProcess;
  log: string[];
  /** Request log lines that answered 5xx (kept apart from the bounded log). */
  errors5xx: string[];
}

// pino-http logs every answered request with its status; a 5xx nobody asked for is a bug.
const ANSWERED_5XX = /"res":\{"statusCode":5\d\d/;

async function launch(p: Proc): Promise<void> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', MAIN_FOR_TESTS], {
    cwd: root,
    // One process per target unless a test asks for a group (STEVEDORE_PROCESSES): SIGKILL and
    // restart then act on the process that serves.
    env: { STEVEDORE_PROCESSES: '1', ...process.env, ...p.env, STEVEDORE_TARGET: p.target, PORT: String(p.port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  p.child = child;
  const keep = (b: Buffer) => {
    const text = b.toString();
    p.log.push(text);
    if (p.log.length > 200) p.log.shift();
    if (ANSWERED_5XX.test(text) && p.errors5xx.length < 20) {
      for (const line of text.split('\n')) if (ANSWERED_5XX.test(line)) p.errors5xx.push(line.slice(0, 400));
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`exited with ${code ?? signal}`))),
  );
  exited.catch(() => undefined);
  try {
    await Promise.race([
      exited,
      waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${p.port}/healthz`).catch(() => undefined);
        return !!r && r.ok;
      }, 60_000),
    ]);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${p.target} did not start: ${(e as Error).message}\n${p.log.join('')}`);
  }
}

function stopProc(p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const child = p.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill(signal);
  });
}

export interface StartOptions {
  wiring?: Wiring;
  storage?: StorageKind;
  extraEnv?: Record<string, string>;
  /** Split wiring only: also start this many `commit-worker` processes ('commit-worker-1', ...). */
  commitWorkers?: number;
  /**
   * Suites that cause server errors on purpose (Redis outages, killed processes) say so; any other
   * suite fails at stop() when a process answered a request with a 5xx.
   */
  allow5xx?: boolean;
  /** The Redis to run on; by default STEVEDORE_TEST_REDIS (`cluster`), else one redis-server. */
  redis?: 'single' | 'cluster';
}

/** The Redis a suite's platform runs on: one redis-server, or (STEVEDORE_TEST_REDIS=cluster) a 3+3 Redis Cluster. */
interface HarnessRedis {
  url: string;
  cluster?: RunningRedisCluster;
  stop(): Promise<void>;
  restart(): Promise<HarnessRedis>;
}

async function harnessRedis(kind: 'single' | 'cluster'): Promise<HarnessRedis> {
  if (kind === 'cluster') {
    const wrap = (c: RunningRedisCluster): HarnessRedis => ({
      url: c.url,
      cluster: c,
      stop: () => c.stop(),
      // An empty cluster on the same ports: the same URL, as an empty redis-server on the same port.
      restart: async () => wrap(await startRedisCluster({ ports: c.nodes.map((n) => n.port) })),
    });
    return wrap(await startRedisCluster());
  }
  const r = await startRedis();
  const wrap = (x: typeof r): HarnessRedis => ({
    url: x.url,
    stop: () => x.stop(),
    restart: async () => wrap(await startRedis({ port: x.port })),
  });
  return wrap(r);
}

/**
 * Which Redis suites run on: STEVEDORE_TEST_REDIS=cluster runs whole suites on a Redis Cluster
 * (3 masters + 3 replicas); a suite may ask for one itself (StartOptions.redis).
 */
function redisKind(opts: StartOptions): 'single' | 'cluster' {
  return opts.redis ?? (process.env.STEVEDORE_TEST_REDIS === 'cluster' ? 'cluster' : 'single');
}

export async function startStevedore(opts: StartOptions = {}): Promise<StevedoreUnderTest> {
  const wiring = opts.wiring ?? 'all';
  let redis = await harnessRedis(redisKind(opts));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-e2e-'));
  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    STEVEDORE_DATA_DIR: dataDir,
    STEVEDORE_STORAGE: opts.storage ?? 'filesystem',
    STEVEDORE_INTERNAL_TOKEN: randomBytes(16).toString('hex'),
    STEVEDORE_ADMIN_PASSWORD: randomBytes(12).toString('base64url'),
    LOG_LEVEL: 'warn',
    ...(opts.extraEnv ?? {}),
  };
  if (opts.storage === 's3') {
    Object.assign(env, platformS3Env(await useSharedS3(), `e2e-${randomBytes(6).toString('hex')}`));
  }
  const procs = new Map<string, Proc>();
  try {
    if (wiring === 'all') {
      procs.set('all', { target: 'all', env, port: await freePort(), log: [], errors5xx: [] });
    } else {
      const blob: Proc = { target: 'blob-service', env, port: await freePort(), log: [], errors5xx: [] };
      const meta: Proc = {
        target: 'metadata-service',
        env: { ...env, STEVEDORE_BLOB_SERVICE_URL: `http://127.0.0.1:${blob.port}` },
        port: await freePort(),
        log: [],
        errors5xx: [],
      };
      const gw: Proc = {
        target: 'gateway',
        env: {
          ...env,
          STEVEDORE_BLOB_SERVICE_URL: `http://127.0.0.1:${blob.port}`,
          STEVEDORE_METADATA_SERVICE_URL: `http://127.0.0.1:${meta.port}`,
        },
        port: await freePort(),
        log: [],
        errors5xx: [],
      };
      procs.set('blob-service', blob).set('metadata-service', meta).set('gateway', gw);
      for (let i = 1; i <= (opts.commitWorkers ?? 0); i++) {
        procs.set(`commit-worker-${i}`, { target: 'commit-worker', env: gw.env, port: await freePort(), log: [], errors5xx: [] });
      }
    }
    for (const p of procs.values()) await launch(p);
  } catch (e) {
    for (const p of procs.values()) await stopProc(p);
    await redis.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const edge = procs.get('all') ?? procs.get('gateway')!;
  const admin = { user: 'admin', password: env.STEVEDORE_ADMIN_PASSWORD };
  useCredentials(`http://127.0.0.1:${edge.port}`, admin);
  return {
    url: `http://127.0.0.1:${edge.port}`,
    redisUrl: redis.url,
    redisCluster: redis.cluster,
    async stopRedis() {
      await redis.stop();
    },
    async startRedis() {
      redis = await redis.restart();
    },
    env,
    admin,
    kill(which = edge.target) {
      procs.get(which)!.child!.kill('SIGKILL');
    },
    async restart(which = edge.target) {
      const p = procs.get(which)!;
      await stopProc(p, 'SIGKILL');
      await launch(p);
    },
    async reindex() {
      const r = await execFileP(process.execPath, ['-r', '@swc-node/register', MAIN_FOR_TESTS, 'reindex'], {
        cwd: root,
        env: { ...process.env, ...env, STEVEDORE_TARGET: 'all' },
      });
      return JSON.parse(r.stdout.trim().split('\n').pop()!);
    },
    logs(which = edge.target) {
      return procs.get(which)!.log.join('');
    },
    pid(which = edge.target) {
      return procs.get(which)!.child!.pid!;
    },
    urlOf(which = edge.target) {
      return `http://127.0.0.1:${procs.get(which)!.port}`;
    },
    async stop() {
      for (const p of [...procs.values()].reverse()) await stopProc(p);
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
      const errors = [...procs.values()].flatMap((p) => p.errors5xx.map((l) => `${p.target}: ${l}`));
      if (errors.length && !opts.allow5xx) throw new Error(`the server answered 5xx that the test did not ask for:\n${errors.join('\n')}`);
    },
  };
}
