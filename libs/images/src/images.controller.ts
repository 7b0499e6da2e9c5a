// /api/v1/images: docker images, inspect, history, tag, rmi and import; /api/v1/image-ids: the image
// an ID names across repositories. Thin: parse, call the service.
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { TagRequestSchema, apiRoutes, type AnswerOf } from '@stevedore/api-contract';
import { RegistryError, parseLocalReference } from '@stevedore/oci';
import { Access, callerOf, parseQuery, queryRepositories, type AccessRequest } from '@stevedore/platform';
import { AccessPolicy } from '@stevedore/registry';
import { BLOB_SERVICE, type BlobService } from '@stevedore/blobs';
import { METADATA_SERVICE, imageIdPrefix, type MetadataService } from '@stevedore/metadata';
import type { Digest } from '@stevedore/oci';
import { ImageService } from './image-service';

import { importRootfs } from './rootfs-import';
import { LAYER_SIZES, type LayerSizeCache } from './layer-size-cache';
import { IMAGES_OPTIONS, requestBody, parseBody, parseLimit, type ImagesOptions } from './images-options';

const query = (req: FastifyRequest) => (req.query ?? {}) as Record<string, unknown>;
const on = (reference: string, actions: string[]): AccessRequest => ({
  type: 'repository',
  name: parseLocalReference(reference).name,
  actions,
});

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
const truthy = (v: unknown) => v === 'true' || v === '1' || v === 'yes';

@Controller('api/v1/images')
export class ImagesController {
  constructor(
    private readonly images: ImageService,
    @Inject(BLOB_SERVICE) private readonly blobs: BlobService,
    @Inject(METADATA_SERVICE) private readonly metadata: MetadataService,
    @Inject(LAYER_SIZES) private readonly sizes: LayerSizeCache,
    @Inject(IMAGES_OPTIONS) private readonly options: ImagesOptions,
    private readonly policy: AccessPolicy,
  ) {}

  /** Rows of repositories the caller may pull (anonymous: public ones); the page cursor counts every row, shown or not. */
  @Get()
  @Access({
    role: 'anyone',
    repositories: (req) => {
      const repository = query(req)['repository'];
      return typeof repository === 'string' && repository ? [on(repository, ['pull'])] : [];
    },
    lists: 'rows of repositories the caller may pull',
  })
  async list(
    @Req() req: FastifyRequest,
    @Query('repository') repository?: string,
    @Query('n') n?: string,
    @Query('last') last?: string,
  ): Promise<AnswerOf<'listImages'>> {
    // The contract takes digits only for n (no 1e3, no 0x10); a page is at most 10,000 rows however large n is.
    parseQuery(apiRoutes.listImages.query, query(req));
    const size = n === undefined ? undefined : Math.min(Number(n), 10_000);
    const page = await this.images.list({ repository: repository || undefined, n: size, last: last || undefined });
    if (repository) return page;
    const ok = new Map<string, boolean>();
    for (const r of new Set(page.items.map((i) => i.repository)))
      ok.set(r, await this.policy.permits(req, { type: 'repository', name: r, actions: ['pull'] }));
    return { ...page, items: page.items.filter((i) => ok.get(i.repository)) };
  }

  @Get('inspect')
  @Access({ role: 'anyone', repositories: queryRepositories(['pull'], 'ref') })
  async inspect(@Query() q: unknown): Promise<AnswerOf<'inspectImage'>> {
    return this.images.inspect(parseQuery(apiRoutes.inspectImage.query, q).ref);
  }

  @Get('history')
  @Access({ role: 'anyone', repositories: queryRepositories(['pull'], 'ref') })
  async history(@Query() q: unknown): Promise<AnswerOf<'imageHistory'>> {
    return this.images.history(parseQuery(apiRoutes.imageHistory.query, q).ref);
  }

  @Post('tag')
  @HttpCode(201)
  @Access({
    role: 'authenticated',
    repositories: (req) => {
      const b = parseBody(TagRequestSchema, req.body);
      return [on(b.source, ['pull']), on(b.target, ['pull', 'push'])];
    },
    description: 'pull on the source, push on the target',
  })
  async tag(@Body() body: unknown): Promise<AnswerOf<'tagImage'>> {
    const b = parseBody(TagRequestSchema, body);
    return this.images.tag(b.source, b.target);
  }

  /** `docker rmi REF`: a tag is untagged; a digest is deleted (with `force=true` when tagged). */
  @Delete()
  @Access({ role: 'authenticated', repositories: queryRepositories(['delete'], 'ref') })
  async remove(@Query() q: unknown): Promise<AnswerOf<'removeImage'>> {
    const { ref, force } = parseQuery(apiRoutes.removeImage.query, q);
    return this.images.remove(ref, truthy(force));
  }

  @Post('untag')
  @Access({ role: 'authenticated', repositories: queryRepositories(['delete'], 'ref') })
  async untag(@Query() q: unknown): Promise<AnswerOf<'untagImage'>> {
    return this.images.untag(parseQuery(apiRoutes.untagImage.query, q).ref);
  }

  /** `docker import`: the body is a root filesystem tarball (plain, gzip, bzip2, xz or zstd). */
  @Post('import')
  @HttpCode(201)
  @Access({ role: 'authenticated', repositories: queryRepositories(['pull', 'push'], 'ref') })
  async importRootfs(@Req() req: FastifyRequest, @Query() raw: unknown): Promise<AnswerOf<'importRootfs'>> {
    const q = parseQuery(apiRoutes.importRootfs.query, raw);
    const reference = q.ref;
    const [os, architecture, variant] = typeof q['platform'] === 'string' ? q['platform'].split('/') : [];
    return importRootfs({ blobs: this.blobs, metadata: this.metadata, sizes: this.sizes }, requestBody(req), {
      reference,
      changes: list(q['change']),
      message: typeof q['message'] === 'string' ? q['message'] : undefined,
      author: typeof q['author'] === 'string' ? q['author'] : undefined,
      source: q.source,
      os,
      architecture,
      variant,
      maxBytes: parseLimit(q['maxBytes'], this.options.maxArchiveBytes),
      maxExpansionRatio: this.options.maxExpansionRatio,
      allowDevices: callerOf(req).admin,
    });
  }
}

/** IDs looked at for one lookup: a short prefix of a huge store stops here rather than scanning it all. */
const MAX_IDS_SCANNED = 10_000;

/**
 * `GET /api/v1/image-ids/{id}`: Docker's one image store. The ID or prefix names the image in every
 * repository the caller may pull; an image held only where the caller may not pull counts as
 * missing, for ambiguity too, so an answer never tells of a repository the caller cannot see.
 */
@Controller('api/v1/image-ids')
export class ImageIdsController {
  constructor(
    @Inject(METADATA_SERVICE) private readonly metadata: MetadataService,
    private readonly policy: AccessPolicy,
  ) {}

  @Get(':id')
  @Access({ role: 'anyone', lists: 'holders in repositories the caller may pull' })
  async resolve(@Req() req: FastifyRequest, @Param('id') raw: string): Promise<AnswerOf<'resolveImageId'>> {
    const prefix = imageIdPrefix(raw);
    if (!prefix)
      throw new RegistryError('INVALID_REQUEST', `invalid image ID "${raw.slice(0, 80)}": 4 to 64 hex digits, with or without sha256:`, {
        id: raw.slice(0, 80),
      });
    const mayPull = new Map<string, Promise<boolean>>();
    const visible = (name: string) => {
      let p = mayPull.get(name);
      if (!p) mayPull.set(name, (p = this.policy.permits(req, { type: 'repository', name, actions: ['pull'] })));
      return p;
    };
    let found: AnswerOf<'resolveImageId'> | undefined;
    let after: string | undefined;
    for (let scanned = 0; scanned < MAX_IDS_SCANNED;) {
      const ids = await this.metadata.imageIds(prefix, 100, after);
      for (const id of ids) {
        const holders = [];
        for (const h of await this.metadata.imageHolders(id as Digest))
          if (await visible(h.name)) holders.push({ repository: h.name, digest: h.digest, tags: h.tags });
        if (!holders.length) continue;
        if (found) throw new RegistryError('CONFLICT', `short ID ${raw} is ambiguous`, { id: raw, ambiguous: true });
        found = { id, holders };
      }
      if (ids.length < 100) break;
      after = ids[ids.length - 1];
      scanned += ids.length;
    }
    if (!found) throw new RegistryError('NOT_FOUND', `No such image: ${raw}`, { id: raw });
    return found;
  }
}
