import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { Client } from 'minio';
import { cephRgwPids, startCephRgw, type S3Endpoint } from './ceph-rgw';
import { isAlive } from './net';
import { createTestBucket, minioOptions, privateS3Dir, removeTestBucket, stopS3, useSharedS3 } from './s3-server';

// A Ceph cluster takes 15-30 s to start, more on a loaded machine.
jest.setTimeout(120_000);

const run = promisify(execFile);
const REPO_ROOT = path.resolve(__dirname, '../../..');
const cli = (...args: string[]) =>
  run(process.execPath, ['-r', '@swc-node/register', 'libs/testing/src/s3-cli.ts', ...args], { cwd: REPO_ROOT, timeout: 110_000 });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** PUT and GET objects for real, one of them a three-part multipart upload. */
async function exercise(s3: S3Endpoint): Promise<void> {
  const bucket = await createTestBucket(s3);
  const client = new Client(minioOptions(s3));
  await client.putObject(bucket, 'small', Buffer.from('hello'));
  expect((await readAll(await client.getObject(bucket, 'small'))).toString()).toBe('hello');
  // Multipart through the client's part-level calls: 5 MiB + 5 MiB + 1 MiB.
  const parts = [randomBytes(5 * 1024 * 1024), randomBytes(5 * 1024 * 1024), randomBytes(1024 * 1024)];
  const uploadId = await client.initiateNewMultipartUpload(bucket, 'dir/big', {});
  const etags = [];
  for (const [i, body] of parts.entries()) {
    const r = await client.uploadPart(
      { bucketName: bucket, objectName: 'dir/big', uploadID: uploadId, partNumber: i + 1, headers: {} },
      body,
    );
    etags.push({ part: i + 1, etag: r.etag });
  }
  await client.completeMultipartUpload(bucket, 'dir/big', uploadId, etags);
  const big = Buffer.concat(parts);
  const st = await client.statObject(bucket, 'dir/big');
  expect(st.size).toBe(big.length);
  expect(st.etag).toMatch(/-3$/);
  expect(sha(await readAll(await client.getObject(bucket, 'dir/big')))).toBe(sha(big));
  expect(sha(await readAll(await client.getPartialObject(bucket, 'dir/big', 5 * 1024 * 1024 - 10, 20)))).toBe(
    sha(big.subarray(5 * 1024 * 1024 - 10, 5 * 1024 * 1024 + 10)),
  );
  await removeTestBucket(s3, bucket);
  expect(await client.bucketExists(bucket)).toBe(false);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('S3 (Ceph RGW)', () => {
  it('s3-cli start leaves a working S3 running after it exits; stop ends every daemon', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 's3-cli-test-'));
    const started = Date.now();
    const { stdout } = await cli('start', dir);
    const env = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
    expect(Object.keys(env).sort()).toEqual([
      'STEVEDORE_TEST_S3_ACCESS_KEY',
      'STEVEDORE_TEST_S3_ENDPOINT',
      'STEVEDORE_TEST_S3_REGION',
      'STEVEDORE_TEST_S3_SECRET_KEY',
    ]);
    const pids = cephRgwPids(dir);
    try {
      process.stdout.write(`ceph rgw started in ${Date.now() - started} ms\n`);
      expect(pids).toHaveLength(4);
      expect(pids.every(isAlive)).toBe(true);
      await exercise({
        endpoint: env.STEVEDORE_TEST_S3_ENDPOINT,
        accessKey: env.STEVEDORE_TEST_S3_ACCESS_KEY,
        secretKey: env.STEVEDORE_TEST_S3_SECRET_KEY,
        region: env.STEVEDORE_TEST_S3_REGION,
      });
    } finally {
      await cli('stop', dir);
    }
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('useSharedS3 gives the run its S3 (a private one when npm test shared none), and stopS3 ends a private one', async () => {
    const shared = !!process.env.STEVEDORE_TEST_S3_ENDPOINT;
    const s3 = await useSharedS3();
    expect(await useSharedS3()).toEqual(s3);
    await exercise(s3);
    const pids = cephRgwPids(privateS3Dir());
    expect(pids.length).toBe(shared ? 0 : 4);
    await stopS3();
    expect(pids.filter(isAlive)).toEqual([]);
    if (shared) expect((await fetch(`${s3.endpoint}/`)).status).toBe(200);
  });

  it('names the Debian packages when Ceph is missing', async () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(startCephRgw(path.join(os.tmpdir(), `s3-missing-${process.pid}`))).rejects.toThrow(
        /ceph-mon is not installed.*apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-mgr radosgw ceph-common/,
      );
    } finally {
      process.env.PATH = saved;
    }
  });
});
