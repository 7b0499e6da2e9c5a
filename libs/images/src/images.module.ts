// Nest wiring of the images domain: the management API (on 'all' and 'gateway') and the export and
// import workers (on 'all' and 'commit-worker'). `deps` provide BLOB_SERVICE and METADATA_SERVICE,
// in-process or remote; both halves only use those interfaces, storage and Redis.
import { imageKeys } from './image-layout';
import { DynamicModule, Inject, Module, OnModuleInit, Optional, type Provider } from '@nestjs/common';
import type Redis from 'ioredis';
import { CONFIG, REDIS, RedisKeys, type StevedoreConfig, type ModuleRoles } from '@stevedore/platform';
import { BLOB_SERVICE, type BlobService } from '@stevedore/blobs';
import { METADATA_SERVICE, type MetadataService } from '@stevedore/metadata';
import { ImageService } from './image-service';
import { ImageIdsController, ImagesController } from './images.controller';
import { TagHistoryController } from './tag-history.controller';
import { ReferrersController } from './referrers.controller';
import { RepositoriesController } from './repositories.controller';
import { ExportsController } from './exports.controller';
import { ImportsController } from './imports.controller';
import { ImageJobQueues } from './image-job-queues';
import { ResourceRegistry } from '@stevedore/registry';
import { imageJobNotFound, ownedJob } from './image-jobs';
import { ImageJobWorkers } from './image-workers';
import { LAYER_SIZES, RedisLayerSizeCache, type LayerSizeCache } from './layer-size-cache';
import { DEFAULT_IMAGES_OPTIONS, IMAGES_OPTIONS, type ImagesOptions } from './images-options';

/** api: /api/v1/images, /exports, /imports; workers: the export and import job workers. */
export interface ImagesModuleOptions extends Partial<ImagesOptions>, Pick<ModuleRoles, 'api' | 'workers'> {}

/** Export and import jobs as owned resources for the access policy. */
class ImageJobResources implements OnModuleInit {
  constructor(
    private readonly queues: ImageJobQueues,
    @Optional() @Inject(ResourceRegistry) private readonly registry?: ResourceRegistry,
  ) {}

  onModuleInit(): void {
    this.registry?.register('export', {
      find: (id) => ownedJob(this.queues.exports, id),
      notFound: (id) => imageJobNotFound('export', id),
    });
    this.registry?.register('import', {
      find: (id) => ownedJob(this.queues.imports, id),
      notFound: (id) => imageJobNotFound('import', id),
    });
  }
}

@Module({})
export class ImagesModule {
  static forRoot(deps: DynamicModule[], options: ImagesModuleOptions = {}): DynamicModule {
    const providers: Provider[] = [
      {
        provide: IMAGES_OPTIONS,
        inject: [CONFIG],
        useFactory: (c: StevedoreConfig): ImagesOptions => ({
          ...DEFAULT_IMAGES_OPTIONS,
          maxArchiveBytes: c.STEVEDORE_MAX_IMPORT_BYTES,
          maxExpansionRatio: c.STEVEDORE_MAX_EXPANSION_RATIO,
          ...stripUndefined({ maxArchiveBytes: options.maxArchiveBytes }),
        }),
      },
      {
        provide: LAYER_SIZES,
        inject: [REDIS, RedisKeys],
        useFactory: (redis: Redis, keys: RedisKeys) => new RedisLayerSizeCache(redis, imageKeys(keys).layerSizes()),
      },
      {
        provide: ImageService,
        inject: [METADATA_SERVICE, BLOB_SERVICE, LAYER_SIZES],
        useFactory: (m: MetadataService, b: BlobService, s: LayerSizeCache) => new ImageService(m, b, s),
      },
    ];
    if (options.api) providers.push(ImageJobQueues, ImageJobResources);
    if (options.workers) providers.push(ImageJobWorkers);
    return {
      module: ImagesModule,
      imports: deps,
      controllers: options.api
        ? [
            ImagesController,
            ImageIdsController,
            TagHistoryController,
            ReferrersController,
            RepositoriesController,
            ExportsController,
            ImportsController,
          ]
        : [],
      providers,
      exports: [ImageService],
    };
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
