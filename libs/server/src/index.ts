export * from './targets';
export * from './bootstrap';
