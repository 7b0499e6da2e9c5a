// Nest wiring of containers and commits: `api` serves /api/v1/containers, /commits and /jobs;
// `worker` runs the commit worker. `deps` provide BLOB_SERVICE and METADATA_SERVICE (wrapped by
// UpstreamModule where images are pulled through).
import { DynamicModule, Inject, Module, OnModuleInit, Optional, type Provider } from '@nestjs/common';
import { ResourceRegistry } from '@stevedore/registry';
import type { ModuleRoles } from '@stevedore/platform';
import { jobNotFound, ownedCommitJob } from './job-status';
import { ContainersModule } from '@stevedore/containers';
import { CommitQueues } from './commit-queues';
import { CommitService } from './commit-service';
import { CommitWorkers } from './commit-workers';
import { CommitsController } from './commits.controller';
import { JobList } from './job-list';

/** api: /api/v1/containers, /commits and /jobs (every queue's jobs listed); workers: the commit worker. */
export interface CommitsModuleOptions extends Pick<ModuleRoles, 'api' | 'workers'> {
  /**
   * The containers module to use (ContainersModule.forRoot here, or .remote() for a split gateway and
   * workers), shared with the GC that collects their contents; default: hosted here.
   */
  containers?: DynamicModule;
}

/** Commit and batch jobs as owned resources for the access policy. */
class CommitJobResources implements OnModuleInit {
  constructor(
    private readonly queues: CommitQueues,
    @Optional() @Inject(ResourceRegistry) private readonly registry?: ResourceRegistry,
  ) {}

  onModuleInit(): void {
    this.registry?.register('commit-job', { find: (id) => ownedCommitJob(this.queues.queue, id), notFound: jobNotFound });
  }
}

@Module({})
export class CommitsModule {
  static forRoot(deps: DynamicModule[], options: CommitsModuleOptions = {}): DynamicModule {
    const providers: Provider[] = [];
    if (options.api) providers.push(CommitQueues, CommitService, CommitJobResources, JobList);
    if (options.workers) providers.push(CommitWorkers);
    return {
      module: CommitsModule,
      imports: [...deps, options.containers ?? ContainersModule.forRoot(deps, { api: options.api })],
      controllers: options.api ? [CommitsController] : [],
      providers,
    };
  }
}
