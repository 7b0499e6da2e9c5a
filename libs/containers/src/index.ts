export * from './container';
export * from './container-service';
export * from './apply-layer';
export * from './errors';
export * from './containers.controller';
export * from './containers.module';
export * from './container-rpc';
export * from './container-layout';
