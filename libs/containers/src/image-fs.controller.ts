// An image's union filesystem, the way no other registry shows it, read from the layer indexes
// containers keep (a layer is read once):
//   GET /api/v1/images/fs?ref=NAME:TAG&path=/etc    the merged view, each entry with the layer it
//                                                    comes from and the lower layers it shadows
//   GET /api/v1/images/changes?ref=&layer=N          one layer as Docker's change list (A/C/D)
//   GET /api/v1/images/changes?ref=&from=OTHER       what OTHER would need to become ref
//   GET /api/v1/images/file?ref=&path=/etc/motd      one file's bytes, as a download
import { Controller, Get, Inject, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { apiRoutes, type AnswerOf } from '@stevedore/api-contract';
import { RegistryError } from '@stevedore/oci';
import { Access, parseQuery, queryRepositories } from '@stevedore/platform';
import { CONTAINER_SERVICE, type ContainerService } from './container-service';

@Controller('api/v1/images')
export class ImageFsController {
  constructor(@Inject(CONTAINER_SERVICE) private readonly containers: ContainerService) {}

  @Get('fs')
  @Access({ role: 'anyone', repositories: queryRepositories(['pull'], 'ref') })
  async browse(@Query() q: unknown): Promise<AnswerOf<'browseImage'>> {
    const { ref, path } = parseQuery(apiRoutes.browseImage.query, q);
    return this.containers.browseImage(ref, path ?? '/');
  }

  @Get('file')
  @Access({ role: 'anyone', repositories: queryRepositories(['pull'], 'ref') })
  async file(@Res() reply: FastifyReply, @Query() q: unknown): Promise<FastifyReply> {
    const { ref, path } = parseQuery(apiRoutes.readImageFile.query, q);
    const { entry, stream } = await this.containers.readImageFile(ref, path);
    return (
      reply
        .code(200)
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(entry.size))
        .header('content-disposition', attachment(entry.path.slice(entry.path.lastIndexOf('/') + 1)))
        // An image's file may be HTML or script: the browser saves it, never renders it as this origin's page.
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('x-file-mode', entry.mode.toString(8).padStart(4, '0'))
        .send(stream)
    );
  }

  @Get('changes')
  @Access({ role: 'anyone', repositories: queryRepositories(['pull'], 'ref', 'from'), description: 'pull on ref (and on from)' })
  async changes(@Query() q: unknown): Promise<AnswerOf<'imageChanges'>> {
    const { ref, layer, from } = parseQuery(apiRoutes.imageChanges.query, q);
    if (layer !== undefined && from !== undefined) throw new RegistryError('INVALID_REQUEST', 'give layer or from, not both');
    return { changes: await this.containers.imageChanges(ref, { layer: layer === undefined ? undefined : Number(layer), from }) };
  }
}

/** `attachment` with the file's name: a plain ASCII fallback and the exact name as RFC 6266's UTF-8 `filename*`. */
function attachment(name: string): string {
  // encodeURIComponent leaves ' ( ) * as they are; RFC 5987's attr-char does not allow them.
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, '_') || 'file';
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
