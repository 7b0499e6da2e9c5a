export * from './metadata-service';
export * from './manifest-store';
export * from './metadata-layout';
export * from './metadata.module';
