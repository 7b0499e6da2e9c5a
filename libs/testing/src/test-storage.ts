// Where a test's fresh storage of either driver lives: a temp directory, or a new bucket on the
// shared S3 (Ceph RGW; started privately when `npm test` did not share one). The options are
// createStorageDriver's (libs/storage), given as plain data so this lib needs no storage import
// (libs/storage's own tests use this lib). `close` removes the directory or the bucket.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestBucket, removeTestBucket, useSharedS3 } from './s3-server';

export type TestStorageKind = 'filesystem' | 's3';

export type TestStorageOptions =
  { kind: 'filesystem'; root: string } | { kind: 's3'; endpoint: string; accessKey: string; secretKey: string; bucket: string };

export async function testStorage(kind: TestStorageKind, label: string): Promise<{ options: TestStorageOptions; close(): Promise<void> }> {
  if (kind === 'filesystem') {
    const root = mkdtempSync(path.join(os.tmpdir(), `${label}-`));
    return { options: { kind, root }, close: async () => rmSync(root, { recursive: true, force: true }) };
  }
  const s3 = await useSharedS3();
  const bucket = await createTestBucket(s3, label.replace(/[^a-z0-9]/g, '').slice(0, 20) || 't');
  return {
    options: { kind, endpoint: s3.endpoint, accessKey: s3.accessKey, secretKey: s3.secretKey, bucket },
    close: () => removeTestBucket(s3, bucket),
  };
}
