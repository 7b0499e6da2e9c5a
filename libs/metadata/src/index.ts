export * from './metadata-service';
export * from './manifest-store';
export * from './metadata-service.client';
export * from './metadata-internal.controller';
export * from './metadata.module';
