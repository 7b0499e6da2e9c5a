export * from './blob-service';
export * from './blob-store';
export * from './digest-guard';
export * from './blob-layout';
export * from './blobs.module';
