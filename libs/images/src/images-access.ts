// Who may do what on the images API: the same AccessGuard the /v2 API asks (libs/auth provides it
// globally when STEVEDORE_AUTH is on; without one every request is allowed, as on /v2).
// pull to read an image, push to tag into or import to a repository, delete to untag or rmi;
// a load may write any repository its archive names, so it needs the registry scope (admins).
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RegistryError } from '@stevedore/oci';
import { ACCESS_GUARD, type AccessGuard } from '@stevedore/registry';

export type RepositoryAction = 'pull' | 'push' | 'delete';

@Injectable()
export class ImagesAccess {
  constructor(@Optional() @Inject(ACCESS_GUARD) private readonly guard?: AccessGuard) {}

  async repository(req: FastifyRequest, name: string, actions: RepositoryAction[]): Promise<void> {
    await this.guard?.check(req, { type: 'repository', name, actions });
  }

  /** Whether the caller may; authentication failures still throw. */
  async may(req: FastifyRequest, name: string, actions: RepositoryAction[]): Promise<boolean> {
    try {
      await this.repository(req, name, actions);
      return true;
    } catch (e) {
      if (RegistryError.is(e, 'DENIED')) return false;
      if (RegistryError.is(e, 'UNAUTHORIZED')) return false;
      throw e;
    }
  }

  /** Any authenticated caller (job status: job ids are unguessable). */
  async authenticated(req: FastifyRequest): Promise<void> {
    await this.guard?.check(req, { type: 'base', name: '', actions: [] });
  }

  /** Registry-wide writes (loading an archive names its own repositories). */
  async registry(req: FastifyRequest): Promise<void> {
    await this.guard?.check(req, { type: 'registry', name: 'catalog', actions: ['*'] });
  }
}
