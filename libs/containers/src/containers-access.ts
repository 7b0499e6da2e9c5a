// Who may use containers: the AccessGuard the /v2 API asks (libs/auth provides it when auth is on).
// Creating a container reads its image (pull); everything else needs an authenticated caller.
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ACCESS_GUARD, type AccessGuard } from '@stevedore/registry';

@Injectable()
export class ContainersAccess {
  constructor(@Optional() @Inject(ACCESS_GUARD) private readonly guard?: AccessGuard) {}

  async pull(req: FastifyRequest, repository: string): Promise<void> {
    await this.guard?.check(req, { type: 'repository', name: repository, actions: ['pull'] });
  }

  async push(req: FastifyRequest, repository: string): Promise<void> {
    await this.guard?.check(req, { type: 'repository', name: repository, actions: ['pull', 'push'] });
  }

  async authenticated(req: FastifyRequest): Promise<void> {
    await this.guard?.check(req, { type: 'base', name: '', actions: [] });
  }
}
