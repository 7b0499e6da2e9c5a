export * from './errors';
export * from './digest';
export * from './media-types';
