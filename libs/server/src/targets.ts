// Which modules each target runs (Loki's modules.go, in Nest terms): 'all' is everything in one
// process with in-process services; a split target hosts its own service and reaches the others
// over HTTP through clients of the same interfaces. Nothing is wired twice.
import type { DynamicModule } from '@nestjs/common';
import type { StevedoreConfig, Target } from '@stevedore/platform';
import { BlobsModule } from '@stevedore/blobs';
import { MetadataModule } from '@stevedore/metadata';
import { RegistryApiModule } from '@stevedore/registry';
import { ImagesModule } from '@stevedore/images';
import { UpstreamModule } from '@stevedore/upstream';
import { AuthModule } from '@stevedore/auth';
import { CommitsModule } from '@stevedore/commits';
import { ContainersModule } from '@stevedore/containers';
import { GcModule } from '@stevedore/gc';

export function modulesFor(target: Target, config: StevedoreConfig): DynamicModule[] {
  const need = (url: string | undefined, name: string): void => {
    if (!url) throw new Error(`invalid configuration:\n  STEVEDORE_TARGET=${target} needs ${name}`);
  };
  // Token auth where clients arrive (global: every API module's guard); off only when configured so.
  const auth = config.STEVEDORE_AUTH ? [AuthModule.forRoot({ api: true })] : [];
  switch (target) {
    case 'all': {
      const blobs = BlobsModule.inProcess();
      const metadata = MetadataModule.inProcess(blobs);
      // Pull-through and the replication-rule hook wrap the services every API here uses.
      const upstream = UpstreamModule.forRoot([blobs, metadata], { worker: true });
      const containers = ContainersModule.forRoot([upstream], { api: true });
      return [
        ...auth,
        RegistryApiModule.forRoot([upstream]),
        ImagesModule.forRoot([upstream], { api: true, workers: true }),
        CommitsModule.forRoot([upstream], { api: true, worker: true, containers }),
        // Quotas (global) are enforced by the stores; GC reads and sweeps the stores themselves.
        GcModule.quotas(),
        GcModule.forRoot([blobs, metadata, containers], { api: true, worker: true }),
      ];
    }
    case 'blob-service':
      return [BlobsModule.inProcess({ serveInternal: true }), GcModule.quotas()];
    case 'metadata-service': {
      need(config.STEVEDORE_BLOB_SERVICE_URL, 'STEVEDORE_BLOB_SERVICE_URL');
      const blobs = BlobsModule.remote();
      const metadata = MetadataModule.inProcess(blobs, { serveInternal: true });
      // Containers are hosted here; the images they start from are pulled through on a miss.
      const upstream = UpstreamModule.forRoot([blobs, metadata], { api: false });
      return [metadata, ContainersModule.forRoot([upstream], { serveInternal: true }), GcModule.quotas()];
    }
    case 'gateway': {
      need(config.STEVEDORE_BLOB_SERVICE_URL, 'STEVEDORE_BLOB_SERVICE_URL');
      need(config.STEVEDORE_METADATA_SERVICE_URL, 'STEVEDORE_METADATA_SERVICE_URL');
      const blobs = BlobsModule.remote();
      const metadata = MetadataModule.remote();
      const upstream = UpstreamModule.forRoot([blobs, metadata]);
      return [
        ...auth,
        RegistryApiModule.forRoot([upstream]),
        ImagesModule.forRoot([upstream], { api: true }),
        CommitsModule.forRoot([upstream], { api: true, containers: ContainersModule.remote({ api: true }) }),
        GcModule.quotas(),
        GcModule.forRoot([blobs, metadata], { api: true }),
      ];
    }
    case 'commit-worker': {
      need(config.STEVEDORE_BLOB_SERVICE_URL, 'STEVEDORE_BLOB_SERVICE_URL');
      need(config.STEVEDORE_METADATA_SERVICE_URL, 'STEVEDORE_METADATA_SERVICE_URL');
      const blobs = BlobsModule.remote();
      const metadata = MetadataModule.remote();
      // Containers live in metadata-service: commits read them there, and GC asks it to collect.
      const containers = ContainersModule.remote();
      return [
        ImagesModule.forRoot([blobs, metadata], { workers: true }),
        UpstreamModule.forRoot([blobs, metadata], { api: false, worker: true }),
        CommitsModule.forRoot([blobs, metadata], { worker: true, containers }),
        GcModule.quotas(),
        GcModule.forRoot([blobs, metadata, containers], { worker: true }),
      ];
    }
  }
}
