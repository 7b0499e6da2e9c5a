// Nest wiring of containers: the in-process store where container state is hosted ('all' and
// metadata-service, `serveInternal` exposing it to split services), or a client of metadata-service
// (split gateway, commit workers). `api` adds /api/v1/containers. `deps` provide BLOB_SERVICE and
// METADATA_SERVICE (wrapped by UpstreamModule so a missing image is pulled through).
import { DynamicModule, Inject, Module, OnModuleInit, Optional, type Provider } from '@nestjs/common';
import type Redis from 'ioredis';
import { BLOB_QUOTA, BLOB_SERVICE, type BlobQuota, type BlobService } from '@stevedore/blobs';
import { METADATA_SERVICE, type MetadataService } from '@stevedore/metadata';
import { ImageService, RedisLayerSizeCache, imageKeys } from '@stevedore/images';
import { CONFIG, REDIS, RedisKeys, STORAGE, type StevedoreConfig, type ModuleRoles } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { CONTAINER_SERVICE } from './container-service';
import { ContainerStore } from './container-store';
import { ResourceRegistry } from '@stevedore/registry';
import { RegistryError } from '@stevedore/oci';
import { containerNotFound } from './errors';
import type { ContainerService as Containers } from './container-service';
import { ContainersController } from './containers.controller';
import { ImageFsController } from './image-fs.controller';
import { ContainersRpcController, containerServiceClient } from './container-rpc';

/** api: /api/v1/containers; serveInternal: the containers service for split targets. */
export type ContainersModuleOptions = Pick<ModuleRoles, 'api' | 'serveInternal'>;

/** Containers as owned resources for the access policy: owner, and the image repository they hold. */
class ContainerResources implements OnModuleInit {
  constructor(
    @Inject(CONTAINER_SERVICE) private readonly containers: Containers,
    @Optional() @Inject(ResourceRegistry) private readonly registry?: ResourceRegistry,
  ) {}

  onModuleInit(): void {
    this.registry?.register('container', {
      find: async (id) => {
        const c = await this.containers
          .inspect(id)
          .catch((e: unknown) => (RegistryError.is(e, 'NOT_FOUND') ? undefined : Promise.reject(e)));
        // `writes` is empty: a robot of the owner that may pull the image may also change the container.
        return c ? { owner: c.owner, repositories: [c.image.repository], writes: [] } : undefined;
      },
      notFound: containerNotFound,
    });
  }
}

@Module({})
export class ContainersModule {
  static forRoot(deps: DynamicModule[], options: ContainersModuleOptions = {}): DynamicModule {
    const providers: Provider[] = [
      ContainerResources,
      {
        provide: CONTAINER_SERVICE,
        inject: [METADATA_SERVICE, BLOB_SERVICE, STORAGE, REDIS, RedisKeys, CONFIG, { token: BLOB_QUOTA, optional: true }],
        useFactory: (m: MetadataService, b: BlobService, s: StorageDriver, r: Redis, k: RedisKeys, c: StevedoreConfig, quota?: BlobQuota) =>
          new ContainerStore(
            new ImageService(m, b, new RedisLayerSizeCache(r, imageKeys(k).layerSizes())),
            m,
            b,
            s,
            r,
            k,
            { maxBytes: c.STEVEDORE_MAX_CONTAINER_ARCHIVE_BYTES, maxExpansionRatio: c.STEVEDORE_MAX_EXPANSION_RATIO },
            quota,
            c.STEVEDORE_LAYER_INDEX_CACHE_BYTES,
          ),
      },
    ];
    const controllers = [
      ...(options.api ? [ContainersController, ImageFsController] : []),
      ...(options.serveInternal ? [ContainersRpcController] : []),
    ];
    return { module: ContainersModule, imports: deps, controllers, providers, exports: [CONTAINER_SERVICE] };
  }

  /** Containers are hosted by metadata-service (STEVEDORE_METADATA_SERVICE_URL). */
  static remote(options: { api?: boolean } = {}): DynamicModule {
    return {
      module: ContainersModule,
      controllers: options.api ? [ContainersController, ImageFsController] : [],
      providers: [
        ContainerResources,
        {
          provide: CONTAINER_SERVICE,
          inject: [CONFIG],
          useFactory: (c: StevedoreConfig) => containerServiceClient(c.STEVEDORE_METADATA_SERVICE_URL!, c.STEVEDORE_INTERNAL_TOKEN),
        },
      ],
      exports: [CONTAINER_SERVICE],
    };
  }
}
