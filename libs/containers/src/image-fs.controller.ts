// GET /api/v1/images/fs?ref=NAME:TAG&path=/etc: an image's union filesystem, the way no other
// registry shows it: the merged view of its layers, and for each entry the layer it comes from and
// the lower layers it shadows. Read from the layer indexes containers keep (a layer is read once).
import { Controller, Get, Inject, Query } from '@nestjs/common';
import { apiRoutes, type AnswerOf } from '@stevedore/api-contract';
import { RegistryError, parseLocalReference } from '@stevedore/oci';
import { Access, parseQuery } from '@stevedore/platform';
import { CONTAINER_SERVICE, type ContainerService } from './container-service';

@Controller('api/v1/images/fs')
export class ImageFsController {
  constructor(@Inject(CONTAINER_SERVICE) private readonly containers: ContainerService) {}

  @Get()
  @Access({
    role: 'anyone',
    repositories: (req) => {
      const ref = ((req.query ?? {}) as Record<string, unknown>)['ref'];
      if (typeof ref !== 'string' || !ref)
        throw new RegistryError('INVALID_REQUEST', 'query parameter "ref" is required', { parameter: 'ref' });
      return [{ type: 'repository', name: parseLocalReference(ref, { defaultTag: true }).name, actions: ['pull'] }];
    },
  })
  async browse(@Query() q: unknown): Promise<AnswerOf<'browseImage'>> {
    const { ref, path } = parseQuery(apiRoutes.browseImage.query, q);
    return this.containers.browseImage(ref, path ?? '/');
  }
}
