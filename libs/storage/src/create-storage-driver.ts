// Builds the configured driver; the S3 bucket is created on first use.
import { promises as fs } from 'node:fs';
import { FilesystemDriver } from './filesystem-driver';
import { S3Driver, type S3DriverOptions } from './s3-driver';
import type { StorageDriver } from './storage-driver';

export type StorageOptions = { kind: 'filesystem'; root: string } | ({ kind: 's3' } & S3DriverOptions);

export async function createStorageDriver(options: StorageOptions): Promise<StorageDriver> {
  if (options.kind === 'filesystem') {
    await fs.mkdir(options.root, { recursive: true });
    return new FilesystemDriver(options.root);
  }
  const driver = new S3Driver(options);
  await driver.ensureBucket();
  return driver;
}
