// Builds the configured driver from plain options (configuration is validated by the caller);
// the S3 bucket is created when it does not exist yet.
import { promises as fs } from 'node:fs';
import { FilesystemDriver } from './filesystem-driver';
import { S3Driver, s3OptionsFromUrl } from './s3-driver';
import type { StorageDriver } from './storage-driver';

export interface FilesystemStorageOptions {
  kind: 'filesystem';
  root: string;
}

export interface S3StorageOptions {
  kind: 's3';
  /** e.g. http://127.0.0.1:7480 or https://s3.example.com */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region?: string;
}

export type StorageOptions = FilesystemStorageOptions | S3StorageOptions;

export async function createStorageDriver(options: StorageOptions): Promise<StorageDriver> {
  if (options.kind === 'filesystem') {
    await fs.mkdir(options.root, { recursive: true });
    return new FilesystemDriver(options.root);
  }
  const { endpoint, accessKey, secretKey, bucket, region } = options;
  const driver = new S3Driver(s3OptionsFromUrl(endpoint, { accessKey, secretKey, bucket, region, pathStyle: true }));
  await driver.ensureBucket();
  return driver;
}
