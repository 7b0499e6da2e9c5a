// Mounts the /v2 API on the process's Fastify instance (plain Fastify routes: the hot path skips
// Nest's per-request pipeline; auth runs through the AccessGuard instead).
import { DynamicModule, Inject, Module, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { CONFIG, StevedoreMetrics, type StevedoreConfig } from '@stevedore/platform';
import { BLOB_SERVICE, type BlobService } from '@stevedore/blobs';
import { METADATA_SERVICE, REPOSITORY_INDEX, type MetadataService, type RepositoryIndex } from '@stevedore/metadata';
import { DistributionApi } from './distribution-api';
import { ACCESS_GUARD, type AccessGuard } from './access-guard';

class DistributionRoutes implements OnModuleInit, OnModuleDestroy {
  constructor(
    private readonly host: HttpAdapterHost,
    @Inject(BLOB_SERVICE) private readonly blobs: BlobService,
    @Inject(METADATA_SERVICE) private readonly metadata: MetadataService,
    @Inject(CONFIG) private readonly config: StevedoreConfig,
    @Inject(StevedoreMetrics) private readonly metrics: StevedoreMetrics,
    @Optional() @Inject(ACCESS_GUARD) private readonly guard?: AccessGuard,
    @Optional() @Inject(REPOSITORY_INDEX) private readonly repositories?: RepositoryIndex,
  ) {}

  onModuleInit(): void {
    const api = new DistributionApi(
      this.blobs,
      this.metadata,
      { maxManifestBytes: this.config.STEVEDORE_MAX_MANIFEST_BYTES, redirectBlobs: this.config.S3_REDIRECT },
      this.guard,
      this.metrics,
      this.repositories,
    );
    api.register(this.host.httpAdapter.getInstance<FastifyInstance>());
  }

  async onModuleDestroy(): Promise<void> {
    await this.repositories?.flush();
  }
}

@Module({})
export class RegistryApiModule {
  /** `deps` must provide BLOB_SERVICE and METADATA_SERVICE (and optionally ACCESS_GUARD). */
  static forRoot(deps: DynamicModule[]): DynamicModule {
    return { module: RegistryApiModule, imports: deps, providers: [DistributionRoutes] };
  }
}
