export * from './targets';
export * from './bootstrap';
export * from './openapi';
