export * from './commit-job';
export * from './commit-builder';
export * from './commit-queues';
export * from './commit-service';
export * from './commit-workers';
export * from './job-status';
export * from './commits.controller';
export * from './commits.module';
