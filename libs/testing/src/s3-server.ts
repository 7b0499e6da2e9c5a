// A real S3 for tests: a single-node Ceph cluster (monitor, manager, memstore OSD) with the RADOS
// Gateway, from Debian's packages, started without systemd by scripts/ceph-rgw.sh (~15-30 s).
// One per test run: `npm test` starts it and exports STEVEDORE_TEST_S3_*; a suite run on its own
// starts a private one and stops it when the process exits.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { freePort, requireBinary } from './net';

const run = promisify(execFile);
const SCRIPT = path.resolve(__dirname, '../scripts/ceph-rgw.sh');

export interface S3Endpoint {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

function parse(out: string): S3Endpoint {
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(out)?.[1]?.trim();
  const endpoint = get('S3_ENDPOINT');
  const accessKey = get('S3_ACCESS_KEY');
  const secretKey = get('S3_SECRET_KEY');
  if (!endpoint || !accessKey || !secretKey) throw new Error(`ceph-rgw.sh printed no endpoint:\n${out}`);
  return { endpoint, accessKey, secretKey, region: 'us-east-1' };
}

export async function startS3(dir: string): Promise<S3Endpoint> {
  for (const [bin, pkg] of [
    ['ceph-mon', 'ceph-mon'],
    ['ceph-osd', 'ceph-osd'],
    ['ceph-mgr', 'ceph-mgr'],
    ['radosgw', 'radosgw'],
    ['ceph', 'ceph-common'],
  ]) {
    requireBinary(bin, pkg);
  }
  const port = await freePort();
  const { stdout } = await run('bash', [SCRIPT, 'start', dir, String(port)], { maxBuffer: 1 << 20, timeout: 180_000 });
  return parse(stdout);
}

export async function stopS3(dir: string): Promise<void> {
  await run('bash', [SCRIPT, 'stop', dir], { timeout: 60_000 });
}

let shared: Promise<S3Endpoint> | undefined;

/** The run's shared S3 (from STEVEDORE_TEST_S3_*), else a private one for this process. */
export function useSharedS3(): Promise<S3Endpoint> {
  const env = process.env;
  if (env.STEVEDORE_TEST_S3_ENDPOINT && env.STEVEDORE_TEST_S3_ACCESS_KEY && env.STEVEDORE_TEST_S3_SECRET_KEY) {
    return Promise.resolve({ endpoint: env.STEVEDORE_TEST_S3_ENDPOINT, accessKey: env.STEVEDORE_TEST_S3_ACCESS_KEY, secretKey: env.STEVEDORE_TEST_S3_SECRET_KEY, region: 'us-east-1' });
  }
  if (!shared) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-s3-'));
    // Stop the daemons when this process is gone, however it ends: a detached watchdog waits for
    // our pid to disappear (Jest's sandboxed `process` does not deliver 'exit' to test code).
    spawn('bash', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; bash '${SCRIPT}' stop '${dir}'`], {
      detached: true,
      stdio: 'ignore',
    }).unref();
    shared = startS3(dir);
  }
  return shared;
}

/** A bucket name no other test uses. */
export function uniqueBucket(prefix = 't'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}
