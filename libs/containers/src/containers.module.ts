// Nest wiring of containers. `deps` provide BLOB_SERVICE and METADATA_SERVICE (wrapped by
// UpstreamModule where images may be pulled through). The state lives in Redis and storage, which
// every process shares, so the service runs wherever it is wired; `api` adds /api/v1/containers.
import { DynamicModule, Module, type Provider } from '@nestjs/common';
import type Redis from 'ioredis';
import { BLOB_SERVICE, type BlobService } from '@stevedore/blobs';
import { METADATA_SERVICE, type MetadataService } from '@stevedore/metadata';
import { ImageService, RedisLayerSizeCache } from '@stevedore/images';
import { REDIS, RedisKeys, STORAGE } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { CONTAINER_SERVICE } from './container-service';
import { ContainerStore } from './container-store';
import { ContainersAccess } from './containers-access';
import { ContainersController } from './containers.controller';

@Module({})
export class ContainersModule {
  static forRoot(deps: DynamicModule[], options: { api?: boolean } = {}): DynamicModule {
    const providers: Provider[] = [
      ContainersAccess,
      {
        provide: CONTAINER_SERVICE,
        inject: [METADATA_SERVICE, BLOB_SERVICE, STORAGE, REDIS, RedisKeys],
        useFactory: (m: MetadataService, b: BlobService, s: StorageDriver, r: Redis, k: RedisKeys) =>
          new ContainerStore(new ImageService(m, b, new RedisLayerSizeCache(r, k.key('images', 'layer-usize'))), m, b, s, r, k),
      },
    ];
    return {
      module: ContainersModule,
      imports: deps,
      controllers: options.api ? [ContainersController] : [],
      providers,
      exports: [CONTAINER_SERVICE, ContainersAccess],
    };
  }
}
