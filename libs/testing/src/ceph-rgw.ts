// A real S3 server on loopback: a single-node Ceph cluster (one monitor, one manager, one memstore
// OSD) with the RADOS Gateway in front, from Debian's packages, started without systemd. Follows
// ../shared/s3/ceph-rgw.sh. The daemons fork into the background (Ceph's default), so they outlive
// the process that started them; stopCephRgw(dir) finds them again by the pid files under `dir`.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, isAlive, requireBinary, waitFor } from './net';

export interface S3Endpoint {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

/** The environment that puts a platform's storage in `bucket` of this S3 (libs/platform config.ts). */
export function platformS3Env(s3: S3Endpoint, bucket: string): Record<string, string> {
  return { S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY: s3.accessKey, S3_SECRET_KEY: s3.secretKey, S3_REGION: s3.region, S3_BUCKET: bucket };
}

export interface CephRgwOptions {
  /** RGW port; a free one when omitted. */
  port?: number;
  /** memstore capacity: objects live in the OSD's memory. */
  memBytes?: number;
}

const CEPH_PACKAGES = 'ceph-mon ceph-osd ceph-mgr radosgw ceph-common';
const BINARIES: Array<[string, string]> = [
  ['ceph-mon', 'ceph-mon'],
  ['ceph-osd', 'ceph-osd'],
  ['ceph-mgr', 'ceph-mgr'],
  ['radosgw', 'radosgw'],
  ['radosgw-admin', 'radosgw'],
  ['ceph', 'ceph-common'],
  ['monmaptool', 'ceph-common'],
  ['ceph-authtool', 'ceph-common'],
];
export const S3_REGION = 'us-east-1';
const ENDPOINT_FILE = 'endpoint.json';

/** Run a Ceph tool to completion. A daemon's parent exits once it has forked, so this also starts daemons. */
function runTool(bin: string, args: string[], dir: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    // stdout only from a pipe; the daemons would otherwise hold our stderr pipe open after forking.
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'ignore'], cwd: dir });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${bin} ${args.join(' ')} failed (${signal ?? `exit ${code}`}); logs in ${path.join(dir, 'log')}`));
    });
  });
}

function conf(dir: string, monPort: number, rgwPort: number, memBytes: number): string {
  return `[global]
fsid = ${randomUUID()}
mon host = v1:127.0.0.1:${monPort}
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
run dir = ${dir}/run
log file = ${dir}/log/$name.log
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
keyring = ${dir}/keyring
osd objectstore = memstore
memstore device bytes = ${memBytes}
ms bind ipv6 = false
[osd]
# On start the OSD would set its own crush location and device class through monitor commands,
# which now and then go out before its monitor client knows the fsid ('wrong fsid', the OSD
# exits); the explicit 'osd crush add' below does the one part we need.
osd crush update on start = false
osd class update on start = false
[mon.a]
mon data = ${dir}/mon/a
[osd.0]
osd data = ${dir}/osd0
[mgr.x]
mgr data = ${dir}/mgr
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
`;
}

/** Start the cluster in `dir` (created if needed; must not hold a running cluster). ~15-30 s. */
export async function startCephRgw(dir: string, options: CephRgwOptions = {}): Promise<S3Endpoint> {
  for (const [bin, pkg] of BINARIES) requireBinary(bin, pkg, CEPH_PACKAGES);
  dir = path.resolve(dir);
  const [monPort, rgwPort] = [await freePort(), options.port ?? (await freePort())];
  for (const sub of ['mon/a', 'osd0', 'mgr', 'rgw', 'run', 'log']) mkdirSync(path.join(dir, sub), { recursive: true });
  const cfg = path.join(dir, 'ceph.conf');
  writeFileSync(cfg, conf(dir, monPort, rgwPort, options.memBytes ?? 4 * 1024 ** 3));
  const fsid = /fsid = (\S+)/.exec(readFileSync(cfg, 'utf8'))![1];
  const C = ['-c', cfg];
  const keyring = path.join(dir, 'keyring');
  try {
    await runTool('ceph-authtool', ['--create-keyring', keyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'], dir);
    await runTool(
      'ceph-authtool',
      [keyring, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *'],
      dir,
    );
    await runTool('monmaptool', ['--create', '--addv', 'a', `[v1:127.0.0.1:${monPort}]`, '--fsid', fsid, path.join(dir, 'monmap')], dir);
    await runTool('ceph-mon', [...C, '--mkfs', '-i', 'a', '--monmap', path.join(dir, 'monmap'), '--keyring', keyring], dir);
    await runTool('ceph-mon', [...C, '-i', 'a'], dir);
    await runTool('ceph', [...C, '--connect-timeout', '30', 'osd', 'create'], dir, 40_000);
    await runTool('ceph-osd', [...C, '-i', '0', '--mkfs'], dir);
    await retry(() => runTool('ceph-osd', [...C, '-i', '0'], dir), 2, 1000);
    await runTool(
      'ceph',
      [...C, '--connect-timeout', '30', 'osd', 'crush', 'add', 'osd.0', '1.0', 'host=localhost', 'root=default'],
      dir,
      40_000,
    );
    await runTool('ceph-mgr', [...C, '-i', 'x'], dir);
    await runTool('radosgw', [...C, '-n', 'client.rgw.a'], dir);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    // RGW answers only once it has created its pools, which needs the OSD up and the PGs active.
    await waitFor(async () => (await fetch(`${endpoint}/`)).status === 200, 120_000, 250).catch((e: Error) => {
      throw new Error(`radosgw did not answer on ${endpoint}: ${e.message}; logs in ${path.join(dir, 'log')}`);
    });
    const accessKey = 'AK' + randomBytes(9).toString('hex').toUpperCase();
    const secretKey = randomBytes(24).toString('base64').replace(/[/+=]/g, '');
    await runTool(
      'radosgw-admin',
      [...C, 'user', 'create', '--uid=tests', '--display-name=tests', `--access-key=${accessKey}`, `--secret-key=${secretKey}`],
      dir,
    );
    const s3: S3Endpoint = { endpoint, accessKey, secretKey, region: S3_REGION };
    writeFileSync(path.join(dir, ENDPOINT_FILE), JSON.stringify(s3));
    return s3;
  } catch (e) {
    await stopCephRgw(dir, { keepDir: true });
    throw e;
  }
}

/** The endpoint of a cluster started in `dir`, when its record is there. */
export function readCephRgwEndpoint(dir: string): S3Endpoint | undefined {
  const f = path.join(dir, ENDPOINT_FILE);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as S3Endpoint) : undefined;
}

/** Pids of the daemons of the cluster in `dir` (from their pid files). */
export function cephRgwPids(dir: string): number[] {
  const run = path.join(dir, 'run');
  if (!existsSync(run)) return [];
  return readdirSync(run)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => Number(readFileSync(path.join(run, f), 'utf8').trim()))
    .filter((p) => Number.isInteger(p) && p > 0);
}

/** SIGTERM the daemons, SIGKILL what is left after 10 s, and remove `dir` (kept after a failed start, for its logs). */
export async function stopCephRgw(dir: string, options: { keepDir?: boolean } = {}): Promise<void> {
  const pids = cephRgwPids(dir);
  const signal = (sig: NodeJS.Signals) => pids.forEach((p) => isAlive(p) && tryKill(p, sig));
  signal('SIGTERM');
  await waitFor(() => !pids.some(isAlive), 10_000, 100).catch(() => {
    signal('SIGKILL');
    return waitFor(() => !pids.some(isAlive), 5_000, 100);
  });
  if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
}

/** Synchronous last-resort stop for process 'exit' handlers: SIGKILL (memstore holds nothing worth saving). */
export function killCephRgwSync(dir: string): void {
  for (const p of cephRgwPids(dir)) tryKill(p, 'SIGKILL');
}

async function retry<T>(fn: () => Promise<T>, attempts: number, delayMs: number): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

function tryKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
