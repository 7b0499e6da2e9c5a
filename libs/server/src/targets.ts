// Which modules each target runs (Loki's modules.go, in Nest terms). A target is a set of roles;
// each split target runs some, and `all` runs the union of them in one process. A service whose
// role runs here is in-process (serving /internal/v1 to other processes when the target is split);
// otherwise it is reached through the HTTP client of the same interface. Every module is then
// derived from the roles present, with one options type (ModuleRoles), so no target can drift
// from another's wiring.
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

/** What a process does: host layer storage, host metadata, host containers, serve clients, run workers. */
export type Role = 'blobs' | 'metadata' | 'containers' | 'api' | 'workers';

/** The split targets (the production shape on Kubernetes) and their roles. */
export const SPLIT_TARGETS = {
  'blob-service': ['blobs'],
  'metadata-service': ['metadata', 'containers'],
  gateway: ['api'],
  'commit-worker': ['workers'],
} as const satisfies Record<Exclude<Target, 'all'>, readonly Role[]>;

export function rolesOf(target: Target): ReadonlySet<Role> {
  if (target === 'all') return new Set(Object.values(SPLIT_TARGETS).flat());
  return new Set(SPLIT_TARGETS[target]);
}

export function modulesFor(target: Target, config: StevedoreConfig): DynamicModule[] {
  const roles = rolesOf(target);
  const has = (r: Role) => roles.has(r);
  const split = target !== 'all';
  const remote = (url: string | undefined, name: string): void => {
    if (!url) throw new Error(`invalid configuration:\n  STEVEDORE_TARGET=${target} needs ${name}`);
  };
  const serves = has('api') || has('workers');
  const out: DynamicModule[] = [];

  // Token auth where clients arrive (global: every API module's guard); off only when configured so.
  if (has('api') && config.STEVEDORE_AUTH) out.push(AuthModule.forRoot({ api: true }));
  // Quotas (global) are enforced by whichever stores run here.
  out.push(GcModule.quotas());

  let blobs: DynamicModule;
  if (has('blobs')) blobs = BlobsModule.inProcess({ serveInternal: split });
  else {
    remote(config.STEVEDORE_BLOB_SERVICE_URL, 'STEVEDORE_BLOB_SERVICE_URL');
    blobs = BlobsModule.remote();
  }
  if (has('blobs') && split) out.push(blobs);
  if (!has('metadata') && !has('containers') && !serves) return out;

  let metadata: DynamicModule;
  if (has('metadata')) metadata = MetadataModule.inProcess(blobs, { serveInternal: split });
  else {
    remote(config.STEVEDORE_METADATA_SERVICE_URL, 'STEVEDORE_METADATA_SERVICE_URL');
    metadata = MetadataModule.remote();
  }
  if (has('metadata') && split) out.push(metadata);

  // Pull-through and the replication-rule hook wrap the services every module here uses: images a
  // container starts from are pulled through on a miss, and every tag written fires the rules.
  const upstream = UpstreamModule.forRoot([blobs, metadata], { api: has('api'), workers: has('workers') });
  const containers = has('containers')
    ? ContainersModule.forRoot([upstream], { api: has('api'), serveInternal: split })
    : ContainersModule.remote({ api: has('api') });
  if (has('containers') && split) out.push(containers);
  if (!serves) return out;

  if (has('api')) out.push(RegistryApiModule.forRoot([upstream]));
  out.push(
    ImagesModule.forRoot([upstream], { api: has('api'), workers: has('workers') }),
    CommitsModule.forRoot([upstream], { api: has('api'), workers: has('workers'), containers }),
    // GC reads and sweeps the stores through their services (and asks containers to collect).
    GcModule.forRoot([blobs, metadata, containers], { api: has('api'), workers: has('workers') }),
  );
  return out;
}
