// The scale-out rig on one machine: HAProxy in front of N gateways (the ingress), N blob-services, N
// metadata-services and N commit-workers, each its own `node -r @swc-node/register apps/<app>/src/main.ts`
// process (in its own process group) on a free loopback port; the replicated internal services behind
// HAProxy listeners too (their Kubernetes Services); a pluggable Redis (redis.ts); one storage for all:
// a filesystem directory or an S3 bucket on the shared Ceph RGW. Used by deploy/test/scale-out.e2e-spec.ts,
// by bench-scale.ts, and by hand through start.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, platformS3Env, removeTestBucket, requireBinary, useSharedS3, waitFor, type S3Endpoint } from '@stevedore/testing';
import { haproxyConfig, type Backend } from './haproxy';
import { startRigRedis, type RedisMode, type RigRedis } from './redis';

export const ROOT = path.resolve(__dirname, '../..');

export type Service = 'gateway' | 'blob-service' | 'metadata-service' | 'commit-worker';
export const SERVICES: readonly Service[] = ['gateway', 'blob-service', 'metadata-service', 'commit-worker'];

export interface RigOptions {
  /** Replicas of each service (default 2 each). */
  replicas?: Partial<Record<Service, number>>;
  redis?: RedisMode;
  storage?: 'filesystem' | 's3';
  /** Token auth on /v2 (default on, as production). */
  auth?: boolean;
  extraEnv?: Record<string, string>;
  /** Keep the temp dir (logs, haproxy.cfg, data) at stop, for a look afterwards. */
  keep?: boolean;
}

interface Proc {
  name: string;
  service: Service;
  port: number;
  env: Record<string, string>;
  child?: ChildProcess;
  logFile: string;
}

export interface Rig {
  /** The public URL (HAProxy's front door). */
  url: string;
  admin: { user: string; password: string };
  /** The environment every Stevedore process shares (REDIS_URL, storage, secrets). */
  env: Record<string, string>;
  redis: RigRedis;
  dir: string;
  haproxyCfg: string;
  /** Process names: gateway-1, gateway-2, blob-service-1, ... */
  names(): string[];
  /** kill -9 the process group of one replica. */
  kill(name: string): void;
  /** Start a killed replica again (same port, same environment) and wait for its readiness. */
  restart(name: string): Promise<void>;
  /** Its own URL (behind HAProxy). */
  urlOf(name: string): string;
  pid(name: string): number | undefined;
  /** The log file of a replica (stdout and stderr), or 'haproxy'. */
  log(name: string): string;
  /** Lines logged at level error or fatal, per replica (faults are expected to cause some). */
  errorLines(): Record<string, number>;
  stop(): Promise<void>;
}

const ERROR_LINE = /^\{"level":(5|6)0,/;
const APP_MAIN = (service: Service) => path.join(ROOT, 'apps', service, 'src', 'main.ts');

function ready(port: number, p = '/readyz'): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(5000) }).then(
    (r) => r.ok,
    () => false,
  );
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function killGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (!child?.pid || exited(child)) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function stopChild(child: ChildProcess | undefined, graceMs = 8000): Promise<void> {
  if (!child || exited(child)) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const t = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await gone;
  clearTimeout(t);
  // Whatever else is in the group (cluster workers) goes too.
  killGroup(child, 'SIGKILL');
}

async function launch(p: Proc): Promise<void> {
  const fd = openSync(p.logFile, 'a');
  const child = spawn(process.execPath, ['-r', '@swc-node/register', APP_MAIN(p.service)], {
    cwd: ROOT,
    env: { ...process.env, ...p.env, STEVEDORE_TARGET: p.service, PORT: String(p.port), HOST: '127.0.0.1', STEVEDORE_PROCESSES: '1' },
    stdio: ['ignore', fd, fd],
    detached: true, // its own process group: kill -9 reaches every process of the replica
  });
  closeSync(fd);
  p.child = child;
  const died = new Promise<never>((_, reject) => child.once('exit', (code, sig) => reject(new Error(`exited with ${code ?? sig}`))));
  died.catch(() => undefined);
  try {
    await Promise.race([died, waitFor(() => ready(p.port), 90_000, 200)]);
  } catch (e) {
    killGroup(child, 'SIGKILL');
    const tail = readFileSync(p.logFile, 'utf8').slice(-4000);
    throw new Error(`${p.name} did not become ready: ${(e as Error).message}\n${tail}`);
  }
}

export async function startRig(opts: RigOptions = {}): Promise<Rig> {
  const haproxyBin = requireBinary('haproxy', 'haproxy');
  const count = (s: Service) => opts.replicas?.[s] ?? 2;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-rig-'));
  const dataDir = path.join(dir, 'data');
  const logs = path.join(dir, 'logs');
  mkdirSync(dataDir);
  mkdirSync(logs);
  const procs = new Map<string, Proc>();
  let haproxy: ChildProcess | undefined;
  let redis: RigRedis | undefined;
  let s3: { endpoint: S3Endpoint; bucket: string } | undefined;

  const stopAll = async () => {
    // The edge first, then the services in reverse start order, Redis last.
    await stopChild(haproxy, 2000);
    await Promise.all([...procs.values()].reverse().map((p) => stopChild(p.child)));
    await redis?.stop();
    if (s3) await removeTestBucket(s3.endpoint, s3.bucket).catch(() => undefined);
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  };

  try {
    redis = await startRigRedis(opts.redis ?? 'sentinel');
    const publicPort = await freePort();
    const blobPort = await freePort();
    const metaPort = await freePort();
    // The secrets a Kubernetes Secret would hold, given to every replica: none of them generates its
    // own under the shared data dir (two replicas starting at once would race to write them).
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const env: Record<string, string> = {
      REDIS_URL: redis.url,
      STEVEDORE_DATA_DIR: dataDir,
      STEVEDORE_STORAGE: opts.storage ?? 'filesystem',
      STEVEDORE_INTERNAL_TOKEN: randomBytes(16).toString('hex'),
      STEVEDORE_ADMIN_PASSWORD: randomBytes(12).toString('base64url'),
      STEVEDORE_TOKEN_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      STEVEDORE_SECRET_KEY: randomBytes(32).toString('hex'),
      STEVEDORE_PUBLIC_URL: `http://127.0.0.1:${publicPort}`,
      STEVEDORE_TRUSTED_PROXIES: '127.0.0.1',
      STEVEDORE_AUTH: opts.auth === false ? 'false' : 'true',
      STEVEDORE_GC_SCHEDULE: 'off',
      // A replica killed holding a commit loses it to another within this long (default 30 s).
      STEVEDORE_COMMIT_LOCK_SECONDS: '5',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      ...(opts.extraEnv ?? {}),
    };
    if (opts.storage === 's3') {
      const endpoint = await useSharedS3();
      const bucket = `rig-${randomBytes(6).toString('hex')}`;
      s3 = { endpoint, bucket };
      Object.assign(env, platformS3Env(endpoint, bucket));
    }
    // One URL per replicated service, as its Kubernetes Service: the HAProxy listener.
    const serviceUrl = (s: Service, port: number) => (count(s) === 1 ? undefined : `http://127.0.0.1:${port}`);
    const byService = new Map<Service, Proc[]>();
    for (const service of SERVICES) {
      const list: Proc[] = [];
      for (let i = 1; i <= count(service); i++) {
        const name = `${service}-${i}`;
        list.push({ name, service, port: await freePort(), env, logFile: path.join(logs, `${name}.log`) });
      }
      byService.set(service, list);
    }
    const blobUrl = serviceUrl('blob-service', blobPort) ?? `http://127.0.0.1:${byService.get('blob-service')![0].port}`;
    const metaUrl = serviceUrl('metadata-service', metaPort) ?? `http://127.0.0.1:${byService.get('metadata-service')![0].port}`;
    for (const [service, list] of byService) {
      for (const p of list) {
        if (service !== 'blob-service') p.env = { ...env, STEVEDORE_BLOB_SERVICE_URL: blobUrl };
        if (service === 'gateway' || service === 'commit-worker') p.env = { ...p.env, STEVEDORE_METADATA_SERVICE_URL: metaUrl };
        procs.set(p.name, p);
      }
    }

    const frontends: Backend[] = [
      {
        name: 'ingress',
        port: publicPort,
        servers: byService.get('gateway')!.map((p) => ({ name: p.name, port: p.port })),
        stickyUploads: true,
      },
    ];
    if (count('blob-service') > 1)
      frontends.push({
        name: 'blob-service',
        port: blobPort,
        servers: byService.get('blob-service')!.map((p) => ({ name: p.name, port: p.port })),
      });
    if (count('metadata-service') > 1)
      frontends.push({
        name: 'metadata-service',
        port: metaPort,
        servers: byService.get('metadata-service')!.map((p) => ({ name: p.name, port: p.port })),
      });
    const haproxyCfg = path.join(dir, 'haproxy.cfg');
    writeFileSync(haproxyCfg, haproxyConfig(dir, frontends));
    const check = spawnSync(haproxyBin, ['-c', '-f', haproxyCfg], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`haproxy.cfg does not check:\n${check.stdout}${check.stderr}`);
    const hfd = openSync(path.join(logs, 'haproxy.log'), 'a');
    haproxy = spawn(haproxyBin, ['-db', '-f', haproxyCfg], { stdio: ['ignore', hfd, hfd], detached: true });
    closeSync(hfd);

    // The first blob-service alone: it adopts the empty Redis and storage as one instance. Then each
    // tier's replicas at once (the blob tier before its callers).
    const [firstBlob, ...otherBlobs] = byService.get('blob-service')!;
    await launch(firstBlob);
    await Promise.all(otherBlobs.map(launch));
    await Promise.all(byService.get('metadata-service')!.map(launch));
    await Promise.all([...byService.get('gateway')!, ...byService.get('commit-worker')!].map(launch));
    // HAProxy has seen every replica ready once.
    await waitFor(() => ready(publicPort), 30_000, 200);

    const get = (name: string) => {
      const p = procs.get(name);
      if (!p) throw new Error(`no replica ${name} (there are ${[...procs.keys()].join(', ')})`);
      return p;
    };
    return {
      url: `http://127.0.0.1:${publicPort}`,
      admin: { user: 'admin', password: env.STEVEDORE_ADMIN_PASSWORD },
      env,
      redis,
      dir,
      haproxyCfg,
      names: () => [...procs.keys()],
      kill(name) {
        killGroup(get(name).child, 'SIGKILL');
      },
      async restart(name) {
        const p = get(name);
        if (p.child && !exited(p.child)) {
          const gone = new Promise<void>((resolve) => p.child!.once('exit', () => resolve()));
          killGroup(p.child, 'SIGKILL');
          await gone;
        }
        await launch(p);
      },
      urlOf: (name) => `http://127.0.0.1:${get(name).port}`,
      pid: (name) => get(name).child?.pid,
      log: (name) => (name === 'haproxy' ? path.join(logs, 'haproxy.log') : get(name).logFile),
      errorLines() {
        const out: Record<string, number> = {};
        for (const p of procs.values()) {
          const text = readFileSync(p.logFile, 'utf8');
          out[p.name] = text.split('\n').filter((l) => ERROR_LINE.test(l)).length;
        }
        return out;
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
