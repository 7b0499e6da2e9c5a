// The contract against a real S3 (Ceph RGW from libs/testing), each run in a fresh bucket.
import { createTestBucket, minioOptions, removeTestBucket, useSharedS3, type S3Endpoint } from '@stevedore/testing';
import { createStorageDriver, S3Driver } from '../src';
import { describeStorageDriverContract } from './storage-driver.contract';

// Starting a private Ceph cluster (when npm test did not share one) takes up to ~30 s.
jest.setTimeout(120_000);

let s3: S3Endpoint;
let bucket: string;

describeStorageDriverContract(
  's3',
  async () => {
    s3 = await useSharedS3();
    bucket = await createTestBucket(s3, 'storage');
    return new S3Driver({ ...minioOptions(s3), bucket });
  },
  {
    presign: true,
    bulkDeleteCount: 1100,
    cleanup: async () => {
      if (bucket) await removeTestBucket(s3, bucket);
    },
  },
);

describe('createStorageDriver (s3)', () => {
  it('creates the bucket from an endpoint URL and uses it', async () => {
    const endpoint = await useSharedS3();
    const name = `created-${Date.now().toString(36)}`;
    const driver = await createStorageDriver({ kind: 's3', ...endpoint, bucket: name });
    await driver.putContent('k', 'v');
    expect((await driver.getContent('k')).toString()).toBe('v');
    // A second driver on an existing bucket is fine (several replicas start together).
    const again = await createStorageDriver({ kind: 's3', ...endpoint, bucket: name });
    await removeTestBucket(endpoint, name);
    await Promise.all([driver.close?.(), again.close?.()]);
  });
});
