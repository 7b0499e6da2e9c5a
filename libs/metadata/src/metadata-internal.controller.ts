// metadata-service's internal API: the MetadataService interface over HTTP for split deployments.
import { Controller, Delete, Get, Inject, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { parseDigest, type Digest, readCapped, manifestReference } from '@stevedore/oci';
import { CONFIG, type StevedoreConfig, Access } from '@stevedore/platform';
import { METADATA_GC_SERVICE, METADATA_SERVICE, type ManifestGcService, type MetadataService } from './metadata-service';

type Q = Record<string, string | undefined>;
const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));

// Split services only: the guard checks the shared internal token (STEVEDORE_INTERNAL_TOKEN).
@Access({ role: 'internal' })
@Controller('internal/v1')
export class MetadataInternalController {
  constructor(
    @Inject(METADATA_SERVICE) private readonly metadata: MetadataService,
    @Inject(METADATA_GC_SERVICE) private readonly gc: ManifestGcService,
    @Inject(CONFIG) private readonly config: StevedoreConfig,
  ) {}

  private send(reply: FastifyReply, value: unknown): void {
    if (value === undefined) reply.code(204).send();
    else reply.header('content-type', 'application/json').send(JSON.stringify(value));
  }

  @Get('manifests')
  async get(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    const m = await this.metadata.getManifest(manifestReference(q.name!, q.reference!));
    reply.header('content-type', m.mediaType).header('x-digest', m.digest).send(m.bytes);
  }

  @Put('manifests')
  async put(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    const bytes = await readCapped(((req.body as Readable | undefined) ?? req.raw) as Readable, this.config.STEVEDORE_MAX_MANIFEST_BYTES, 'MANIFEST_INVALID');
    this.send(reply, await this.metadata.putManifest(manifestReference(q.name!, q.reference!), bytes, q.contentType, { allowMissingReferences: q.allowMissingReferences === '1' }));
  }

  @Delete('manifests')
  async deleteManifest(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    await this.metadata.deleteManifest(q.name!, parseDigest(q.digest!));
    this.send(reply, undefined);
  }

  @Delete('tags')
  async deleteTag(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    await this.metadata.deleteTag(q.name!, q.tag!);
    this.send(reply, undefined);
  }

  @Put('tags')
  async tag(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    await this.metadata.tagManifest(q.name!, q.tag!, parseDigest(q.digest!));
    this.send(reply, undefined);
  }

  @Get('tags')
  async tags(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.metadata.listTags(q.name!, num(q.n), q.last));
  }

  @Get('tags/of')
  async tagsOf(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.metadata.tagsOf(q.name!, parseDigest(q.digest!)));
  }

  @Get('tags/history')
  async history(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.metadata.tagHistory(q.name!, q.tag!));
  }

  @Get('catalog')
  async catalog(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.metadata.catalog(num(q.n), q.last));
  }

  @Get('referrers')
  async referrers(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.metadata.referrers(q.name!, parseDigest(q.subject!), q.artifactType));
  }

  private async jsonBody<T>(req: FastifyRequest): Promise<T> {
    const raw = await readCapped(((req.body as Readable | undefined) ?? req.raw) as Readable, 64 * 1024 * 1024, 'INVALID_REQUEST');
    return JSON.parse(raw.toString()) as T;
  }

  @Get('gc/manifests')
  async listManifests(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.gc.listManifests(q.name!));
  }

  @Post('gc/manifests/delete-untagged')
  async deleteUntagged(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const b = await this.jsonBody<{ name: string; digests: Digest[]; olderThan: number }>(req);
    this.send(reply, await this.gc.deleteUntagged(b.name, b.digests, { olderThan: b.olderThan }));
  }

  @Get('gc/manifest-data')
  async listManifestData(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.gc.listManifestData(q.cursor));
  }

  @Post('gc/manifest-data/purge')
  async purgeManifestData(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const b = await this.jsonBody<{ digests: Digest[]; olderThan: number }>(req);
    this.send(reply, await this.gc.purgeManifestData(b.digests, { olderThan: b.olderThan }));
  }

  @Post('reindex')
  async reindex(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    this.send(reply, await this.metadata.reindex());
  }
}
