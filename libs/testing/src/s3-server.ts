// The test run's S3 (Ceph RGW, see ceph-rgw.ts). Starting one takes 15-30 s, so a run shares one:
// `npm test` starts it with s3-cli.ts and exports STEVEDORE_TEST_S3_*. A jest process run without
// them starts a private cluster on first use and shares it between its test files (Jest gives each
// file its own module registry, so the cluster is found again through a directory named after the
// process id); a detached watchdog stops it once this process is gone, however it ends.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'minio';
import { killCephRgwSync, readCephRgwEndpoint, S3_REGION, startCephRgw, stopCephRgw, type S3Endpoint } from './ceph-rgw';
import { isAlive } from './net';

const REPO_ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(__dirname, 's3-cli.ts');

let pending: Promise<S3Endpoint> | undefined;

function fromEnv(): S3Endpoint | undefined {
  const {
    STEVEDORE_TEST_S3_ENDPOINT: endpoint,
    STEVEDORE_TEST_S3_ACCESS_KEY: accessKey,
    STEVEDORE_TEST_S3_SECRET_KEY: secretKey,
  } = process.env;
  if (!endpoint || !accessKey || !secretKey) return undefined;
  return { endpoint, accessKey, secretKey, region: process.env.STEVEDORE_TEST_S3_REGION || S3_REGION };
}

function privateDir(): string {
  return path.join(os.tmpdir(), `stevedore-s3-${process.pid}`);
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    return (await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2000) })).status === 200;
  } catch {
    return false;
  }
}

function ensureWatchdog(dir: string): void {
  const marker = `${dir}.watchdog`;
  if (existsSync(marker) && isAlive(Number(readFileSync(marker, 'utf8')))) return;
  const child = spawn(process.execPath, ['-r', '@swc-node/register', CLI, 'watch', String(process.pid), dir], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  writeFileSync(marker, String(child.pid));
  // A plain exit can still stop the daemons synchronously; the watchdog covers crashes and kills.
  process.once('exit', () => killCephRgwSync(dir));
}

async function startPrivate(): Promise<S3Endpoint> {
  const dir = privateDir();
  const existing = readCephRgwEndpoint(dir);
  if (existing && (await answers(existing.endpoint))) return existing;
  if (existsSync(dir)) await stopCephRgw(dir);
  ensureWatchdog(dir);
  return startCephRgw(dir);
}

/** The run's shared S3 (from STEVEDORE_TEST_S3_*), else this process's private one, started on first use. */
export function useSharedS3(): Promise<S3Endpoint> {
  const env = fromEnv();
  if (env) return Promise.resolve(env);
  pending ??= startPrivate().catch((e: unknown) => {
    pending = undefined;
    throw e;
  });
  return pending;
}

/**
 * Stop this process's private S3 now rather than at exit (a no-op when the run's shared one is in
 * use: that belongs to whoever started it). With `dir`, stop the cluster started in `dir`.
 */
export async function stopS3(dir?: string): Promise<void> {
  if (dir) return stopCephRgw(dir);
  pending = undefined;
  const own = privateDir();
  if (existsSync(own)) await stopCephRgw(own);
}

export interface MinioConnection {
  endPoint: string;
  port: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  region: string;
  pathStyle: true;
}

/** minio client options for an endpoint: path-style, as Ceph RGW on loopback needs. */
export function minioOptions(s3: S3Endpoint): MinioConnection {
  const u = new URL(s3.endpoint);
  return {
    endPoint: u.hostname,
    port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80,
    useSSL: u.protocol === 'https:',
    accessKey: s3.accessKey,
    secretKey: s3.secretKey,
    region: s3.region,
    pathStyle: true,
  };
}

/** A bucket name no other test uses. */
export function uniqueBucket(prefix = 't'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** Create a fresh, empty bucket for one test or suite and return its name. */
export async function createTestBucket(s3: S3Endpoint, prefix = 't'): Promise<string> {
  const bucket = uniqueBucket(prefix);
  await new Client(minioOptions(s3)).makeBucket(bucket, s3.region);
  return bucket;
}

/** Empty and remove a test bucket (objects and unfinished multipart uploads), so memstore stays small. */
export async function removeTestBucket(s3: S3Endpoint, bucket: string): Promise<void> {
  const client = new Client(minioOptions(s3));
  const keys: string[] = [];
  for await (const o of client.listObjectsV2(bucket, '', true) as AsyncIterable<{ name?: string }>) if (o.name) keys.push(o.name);
  for (let i = 0; i < keys.length; i += 1000) await client.removeObjects(bucket, keys.slice(i, i + 1000));
  for await (const u of client.listIncompleteUploads(bucket, '', true) as AsyncIterable<{ key: string; uploadId: string }>) {
    await client.abortMultipartUpload(bucket, u.key, u.uploadId);
  }
  await client.removeBucket(bucket);
}

/** Where this process's private cluster lives (its pid files are under run/). */
export function privateS3Dir(): string {
  return privateDir();
}
