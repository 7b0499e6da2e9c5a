export * from './storage-driver';
export * from './keys';
export * from './filesystem-driver';
export * from './s3-driver';
export * from './create-storage-driver';
export * from './file-range-stream';
