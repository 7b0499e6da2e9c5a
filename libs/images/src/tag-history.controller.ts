// /api/v1/images/tag-history: the time machine. Every digest a tag has named is kept (storage's
// _manifests/tags/<tag>/index, Redis's taghist), so a tag moved by mistake can be pointed back.
import { Body, Controller, Get, HttpCode, Inject, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RestoreTagRequestSchema, apiRoutes, type AnswerOf, type TagHistory } from '@stevedore/api-contract';
import { RegistryError, parseLocalReference, type Digest } from '@stevedore/oci';
import { Access, parseQuery } from '@stevedore/platform';
import { METADATA_SERVICE, type MetadataService } from '@stevedore/metadata';
import { ImageService } from './image-service';
import { parseBody } from './images-options';

const refOf = (req: FastifyRequest): string => {
  const ref = ((req.query ?? {}) as Record<string, unknown>)['ref'];
  if (typeof ref !== 'string' || !ref)
    throw new RegistryError('INVALID_REQUEST', 'query parameter "ref" is required', { parameter: 'ref' });
  return ref;
};

function tagRef(reference: string): { name: string; tag: string } {
  const ref = parseLocalReference(reference, { defaultTag: true });
  if (ref.digest) throw new RegistryError('INVALID_REQUEST', 'tag history is of a tag: write NAME:TAG, not a digest', { ref: reference });
  return { name: ref.name, tag: ref.tag ?? 'latest' };
}

/** The digest a ref names now, or null when it names nothing (untagged, or never tagged). */
async function digestOrNull(metadata: MetadataService, ref: { name: string; tag?: string; digest?: Digest }): Promise<Digest | null> {
  return metadata.getManifest(ref).then(
    (m) => m.digest,
    (e: unknown) => {
      if (RegistryError.is(e, 'MANIFEST_UNKNOWN') || RegistryError.is(e, 'NAME_UNKNOWN')) return null;
      throw e;
    },
  );
}

export async function readTagHistory(metadata: MetadataService, reference: string): Promise<TagHistory> {
  const { name, tag } = tagRef(reference);
  const kept = await metadata.tagHistory(name, tag);
  if (kept.length === 0) throw new RegistryError('MANIFEST_UNKNOWN', `tag ${name}:${tag} has no history`, { name, tag }, 404);
  const current = await digestOrNull(metadata, { name, tag });
  const entries = await Promise.all(
    [...kept]
      .sort((a, b) => b.taggedAt - a.taggedAt)
      .map(async (e) => ({
        digest: e.digest,
        taggedAt: new Date(e.taggedAt).toISOString(),
        current: e.digest === current,
        available: (await digestOrNull(metadata, { name, digest: e.digest })) !== null,
      })),
  );
  return { repository: name, tag, current, entries };
}

@Controller('api/v1/images/tag-history')
export class TagHistoryController {
  constructor(
    private readonly images: ImageService,
    @Inject(METADATA_SERVICE) private readonly metadata: MetadataService,
  ) {}

  @Get()
  @Access({ role: 'anyone', repositories: (req) => [{ type: 'repository', name: tagRef(refOf(req)).name, actions: ['pull'] }] })
  async read(@Query() q: unknown): Promise<AnswerOf<'tagHistory'>> {
    return readTagHistory(this.metadata, parseQuery(apiRoutes.tagHistory.query, q).ref);
  }

  /** Only to a digest the tag has named and the repository still holds: restoring is not tagging anything. */
  @Post('restore')
  @HttpCode(201)
  @Access({
    role: 'authenticated',
    repositories: (req) => [
      { type: 'repository', name: tagRef(parseBody(RestoreTagRequestSchema, req.body).ref).name, actions: ['pull', 'push'] },
    ],
    description: 'pull and push on the repository',
  })
  async restore(@Req() _req: FastifyRequest, @Body() body: unknown): Promise<AnswerOf<'restoreTag'>> {
    const b = parseBody(RestoreTagRequestSchema, body);
    const { name, tag } = tagRef(b.ref);
    const history = await readTagHistory(this.metadata, `${name}:${tag}`);
    const entry = history.entries.find((e) => e.digest === b.digest);
    if (!entry) throw new RegistryError('MANIFEST_UNKNOWN', `${name}:${tag} never named ${b.digest}`, { name, tag, digest: b.digest }, 404);
    if (!entry.available)
      throw new RegistryError(
        'MANIFEST_UNKNOWN',
        `${b.digest} is no longer in ${name} (deleted or collected)`,
        { name, digest: b.digest },
        404,
      );
    return this.images.tag(`${name}@${b.digest}`, `${name}:${tag}`);
  }
}
