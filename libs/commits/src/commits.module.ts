// Nest wiring of containers and commits: `api` serves /api/v1/containers, /commits and /jobs;
// `worker` runs the commit worker. `deps` provide BLOB_SERVICE and METADATA_SERVICE (wrapped by
// UpstreamModule where images are pulled through).
import { DynamicModule, Module, type Provider } from '@nestjs/common';
import { ContainersModule } from '@stevedore/containers';
import { CommitQueues } from './commit-queues';
import { CommitService } from './commit-service';
import { CommitWorkers } from './commit-workers';
import { CommitsController } from './commits.controller';

export interface CommitsModuleOptions {
  api?: boolean;
  worker?: boolean;
  /** Where container state is hosted: here (default), or in metadata-service (split gateway and workers). */
  containers?: 'in-process' | 'remote';
}

@Module({})
export class CommitsModule {
  static forRoot(deps: DynamicModule[], options: CommitsModuleOptions = {}): DynamicModule {
    const providers: Provider[] = [];
    if (options.api) providers.push(CommitQueues, CommitService);
    if (options.worker) providers.push(CommitWorkers);
    return {
      module: CommitsModule,
      imports: [
        ...deps,
        options.containers === 'remote' ? ContainersModule.remote({ api: options.api }) : ContainersModule.forRoot(deps, { api: options.api }),
      ],
      controllers: options.api ? [CommitsController] : [],
      providers,
    };
  }
}
