export * from './blob-service';
export * from './blob-store';
export * from './digest-guard';
export * from './blob-service.client';
export * from './blobs-internal.controller';
export * from './blobs.module';
