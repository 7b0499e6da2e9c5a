export * from './routes';
export * from './access-guard';
export * from './distribution-api';
export * from './registry-api.module';
export * from './policy-guard';
