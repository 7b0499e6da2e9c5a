// @stevedore/api-contract: the /api/v1 management API's shapes, for the server (validation and
// OpenAPI), the CLI and the web UI. Depends on zod only, so it runs in a browser as well.
export * from './common';
export * from './images';
export * from './containers';
export * from './commits';
export * from './jobs';
export * from './users';
export * from './sessions';
export * from './upstreams';
export * from './gc';
export * from './consistency';
export * from './routes';
export * from './openapi';
export * from './queries';
