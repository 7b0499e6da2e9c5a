// blob-service's internal API: the BlobService interface over HTTP for split deployments.
import { Controller, Delete, Get, Inject, Param, Patch, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { parseDigest, readCapped } from '@stevedore/oci';
import { CONFIG, type StevedoreConfig, Access } from '@stevedore/platform';
import { BLOB_GC_SERVICE, BLOB_SERVICE, type BlobGcService, type BlobService, type BlobSweepItem } from './blob-service';

type Q = Record<string, string | undefined>;
const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));

// Split services only: the guard checks the shared internal token (STEVEDORE_INTERNAL_TOKEN).
@Access({ role: 'internal' })
@Controller('internal/v1')
export class BlobsInternalController {
  constructor(
    @Inject(BLOB_SERVICE) private readonly blobs: BlobService,
    @Inject(BLOB_GC_SERVICE) private readonly gc: BlobGcService,
    @Inject(CONFIG) private readonly config: StevedoreConfig,
  ) {}


  private stream(req: FastifyRequest): Readable {
    return ((req.body as Readable | undefined) ?? req.raw) as Readable;
  }

  private send(reply: FastifyReply, value: unknown): void {
    if (value === undefined) reply.code(204).send();
    else reply.header('content-type', 'application/json').send(JSON.stringify(value));
  }

  @Get('blobs/stat')
  async stat(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.blobs.stat(q.name!, parseDigest(q.digest!)));
  }

  @Get('blobs/exists')
  async exists(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.blobs.exists(parseDigest(q.digest!)));
  }

  @Get('blobs/content')
  async content(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    const start = num(q.start);
    const c = await this.blobs.open(q.name!, parseDigest(q.digest!), {
      range: start === undefined ? undefined : { start, end: num(q.end) },
      allowRedirect: q.redirect === '1',
    });
    reply.header('x-blob-size', String(c.info.size));
    if (c.redirectUrl) {
      reply.header('x-redirect-url', c.redirectUrl).send();
      return;
    }
    if (c.range) reply.header('x-range-start', String(c.range.start)).header('x-range-end', String(c.range.end));
    if (c.bytes) c.stream?.destroy();
    reply.header('content-type', 'application/octet-stream').send(c.bytes ?? c.stream);
  }

  @Post('uploads')
  async start(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.blobs.startUpload(q.name!));
  }

  @Get('uploads/:id')
  async status(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Query() q: Q): Promise<void> {
    this.send(reply, await this.blobs.uploadStatus(q.name!, id));
  }

  @Patch('uploads/:id')
  async append(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Query() q: Q): Promise<void> {
    const start = num(q.start);
    this.send(reply, await this.blobs.appendChunk(q.name!, id, this.stream(req), start === undefined ? undefined : { start, end: num(q.end) }, num(q.length)));
  }

  @Put('uploads/:id')
  async complete(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Query() q: Q): Promise<void> {
    this.send(reply, await this.blobs.completeUpload(q.name!, id, parseDigest(q.digest!), q.body ? this.stream(req) : undefined, num(q.length)));
  }

  @Delete('uploads/:id')
  async cancel(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Query() q: Q): Promise<void> {
    await this.blobs.cancelUpload(q.name!, id);
    this.send(reply, undefined);
  }

  @Post('blobs/mount')
  async mount(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.blobs.mount(q.name!, q.from!, parseDigest(q.digest!)));
  }

  @Post('blobs/reindex')
  async reindex(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    this.send(reply, { blobs: await this.blobs.reindex() });
  }

  @Get('gc/blobs')
  async listBlobs(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.gc.listBlobs(q.cursor));
  }

  @Get('gc/links')
  async listLinks(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.gc.listLinks(q.name!));
  }

  @Post('gc/blobs/sweep')
  async sweep(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const body = JSON.parse((await readCapped(this.stream(req), 64 * 1024 * 1024, 'INVALID_REQUEST')).toString()) as { items: BlobSweepItem[]; olderThan: number };
    this.send(reply, await this.gc.sweepBlobs(body.items, { olderThan: body.olderThan }));
  }

  @Post('gc/uploads/purge')
  async purgeUploads(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.gc.purgeUploads({ olderThan: Number(q.olderThan), dryRun: q.dryRun === '1' }));
  }

  @Post('blobs')
  async put(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    this.send(reply, await this.blobs.putBlob(q.name!, this.stream(req), q.expected ? parseDigest(q.expected) : undefined, num(q.sizeHint)));
  }

  @Delete('blobs')
  async unlink(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Query() q: Q): Promise<void> {
    await this.blobs.unlink(q.name!, parseDigest(q.digest!));
    this.send(reply, undefined);
  }
}
