// /api/v1/images: docker images, inspect, history, tag, rmi and import. Thin: parse, call the service.
import { Body, Controller, Delete, Get, HttpCode, Inject, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RegistryError } from '@stevedore/oci';
import { BLOB_SERVICE, type BlobService } from '@stevedore/blobs';
import { METADATA_SERVICE, type MetadataService } from '@stevedore/metadata';
import { ImageService } from './image-service';
import { parseImageRef } from './image-reference';
import { ImagesAccess } from './images-access';
import { importRootfs } from './rootfs-import';
import { LAYER_SIZES, type LayerSizeCache } from './layer-size-cache';
import { IMAGES_OPTIONS, requestBody, parseBody, parseLimit, type ImagesOptions } from './images-options';

const TagBody = z.object({ source: z.string().min(1).max(600), target: z.string().min(1).max(600) });

function required(value: unknown, name: string): string {
  if (typeof value !== 'string' || !value) throw new RegistryError('INVALID_REQUEST', `query parameter "${name}" is required`, { parameter: name });
  return value;
}

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
    private readonly access: ImagesAccess,
  ) {}

  private async allowed(req: FastifyRequest, reference: string, actions: Array<'pull' | 'push' | 'delete'>): Promise<string> {
    await this.access.repository(req, parseImageRef(reference).name, actions);
    return reference;
  }

  /** Rows of repositories the caller may pull; the page cursor counts every row, shown or not. */
  @Get()
  async list(@Req() req: FastifyRequest, @Query('repository') repository?: string, @Query('n') n?: string, @Query('last') last?: string) {
    const size = n === undefined ? undefined : Number(n);
    if (size !== undefined && (!Number.isInteger(size) || size < 1)) throw new RegistryError('INVALID_REQUEST', '`n` must be a positive integer', { n });
    if (repository) await this.allowed(req, repository, ['pull']);
    else await this.access.authenticated(req);
    const page = await this.images.list({ repository: repository || undefined, n: size, last: last || undefined });
    if (repository) return page;
    const ok = new Map<string, boolean>();
    for (const r of new Set(page.items.map((i) => i.repository))) ok.set(r, await this.access.may(req, r, ['pull']));
    return { ...page, items: page.items.filter((i) => ok.get(i.repository)) };
  }

  @Get('inspect')
  async inspect(@Req() req: FastifyRequest, @Query('ref') ref?: string) {
    return this.images.inspect(await this.allowed(req, required(ref, 'ref'), ['pull']));
  }

  @Get('history')
  async history(@Req() req: FastifyRequest, @Query('ref') ref?: string) {
    return this.images.history(await this.allowed(req, required(ref, 'ref'), ['pull']));
  }

  @Post('tag')
  @HttpCode(201)
  async tag(@Req() req: FastifyRequest, @Body() body: unknown) {
    const b = parseBody(TagBody, body);
    await this.allowed(req, b.source, ['pull']);
    await this.allowed(req, b.target, ['pull', 'push']);
    return this.images.tag(b.source, b.target);
  }

  /** `docker rmi REF`: a tag is untagged; a digest is deleted (with `force=true` when tagged). */
  @Delete()
  async remove(@Req() req: FastifyRequest, @Query('ref') ref?: string, @Query('force') force?: string) {
    return this.images.remove(await this.allowed(req, required(ref, 'ref'), ['delete']), truthy(force));
  }

  @Post('untag')
  async untag(@Req() req: FastifyRequest, @Query('ref') ref?: string) {
    return this.images.untag(await this.allowed(req, required(ref, 'ref'), ['delete']));
  }

  /** `docker import`: the body is a root filesystem tarball (plain, gzip, bzip2, xz or zstd). */
  @Post('import')
  @HttpCode(201)
  async importRootfs(@Req() req: FastifyRequest, @Query() q: Record<string, unknown>) {
    const reference = await this.allowed(req, required(q['ref'], 'ref'), ['pull', 'push']);
    const [os, architecture, variant] = typeof q['platform'] === 'string' ? q['platform'].split('/') : [];
    return importRootfs({ blobs: this.blobs, metadata: this.metadata, sizes: this.sizes }, requestBody(req), {
      reference,
      changes: list(q['change']),
      message: typeof q['message'] === 'string' ? q['message'] : undefined,
      author: typeof q['author'] === 'string' ? q['author'] : undefined,
      os,
      architecture,
      variant,
      maxBytes: parseLimit(q['maxBytes'], this.options.maxArchiveBytes),
    });
  }
}
