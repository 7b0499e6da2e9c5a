// metadata-service's internal API for containers: the ContainerService interface over HTTP, so a
// split gateway and commit workers reach the one host of container state.
import { Controller, Delete, Get, Inject, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { CONFIG, type StevedoreConfig, Access } from '@stevedore/platform';
import { requestBody } from '@stevedore/images';
import { RegistryError, readCapped } from '@stevedore/oci';
import type { FileOp, TarMode } from './container';
import { CONTAINER_SERVICE, type ContainerCollectOptions, type ContainerCollectReport, type ContainerService } from './container-service';

type Q = Record<string, string | undefined>;
const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));

// Split services only: the guard checks the shared internal token (STEVEDORE_INTERNAL_TOKEN).
@Access({ role: 'internal' })
@Controller('internal/v1/containers-gc')
export class ContainersGcInternalController {
  constructor(@Inject(CONTAINER_SERVICE) private readonly containers: ContainerService) {}

  // Bodies reach internal routes as raw streams (no JSON parser here), as on the other controller.
  @Post()
  async collect(@Req() req: FastifyRequest): Promise<ContainerCollectReport> {
    const body = JSON.parse((await readCapped(requestBody(req), 64 * 1024)).toString()) as Partial<ContainerCollectOptions>;
    if (!Number.isFinite(body.olderThan) || !Number.isFinite(body.tmpOlderThan)) throw new RegistryError('INVALID_REQUEST', 'collect needs olderThan and tmpOlderThan (ms)');
    return this.containers.collect({ olderThan: body.olderThan!, tmpOlderThan: body.tmpOlderThan!, dryRun: body.dryRun === true });
  }
}

@Access({ role: 'internal' })
@Controller('internal/v1/containers')
export class ContainersInternalController {
  constructor(
    @Inject(CONTAINER_SERVICE) private readonly containers: ContainerService,
    @Inject(CONFIG) private readonly config: StevedoreConfig,
  ) {}

  // Shielded as on the public routes: a refused archive must not kill the gateway's connection.
  private stream(req: FastifyRequest): Readable {
    return requestBody(req);
  }

  private async json<T>(req: FastifyRequest): Promise<T> {
    return JSON.parse((await readCapped(this.stream(req), 1024 * 1024)).toString()) as T;
  }

  private send(reply: FastifyReply, value: unknown): void {
    if (value === undefined) reply.code(204).send();
    else reply.header('content-type', 'application/json').send(JSON.stringify(value));
  }


  @Post()
  async create(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    this.send(reply, await this.containers.create(await this.json(req)));
  }

  @Get()
  async list(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    this.send(reply, await this.containers.list());
  }

  @Get(':id')
  async inspect(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    this.send(reply, await this.containers.inspect(id));
  }

  @Delete(':id')
  async remove(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    await this.containers.remove(id);
    this.send(reply, undefined);
  }

  @Put(':id/files')
  async writeFile(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Query() q: Q): Promise<void> {
    const body = this.stream(req);
    this.send(reply, await this.containers.writeFile(id, q.path!, body, { mode: num(q.mode), uid: num(q.uid), gid: num(q.gid) }));
  }

  @Get(':id/files')
  async readFile(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Query() q: Q): Promise<void> {
    const { entry, stream } = await this.containers.readFile(id, q.path!);
    reply.header('x-entry', encodeURIComponent(JSON.stringify(entry))).header('content-type', 'application/octet-stream').send(stream);
  }

  @Post(':id/ops')
  async op(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    this.send(reply, { entry: await this.containers.apply(id, await this.json<FileOp>(req)) });
  }

  @Put(':id/archive')
  async upload(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Query() q: Q): Promise<void> {
    const body = this.stream(req);
    this.send(reply, await this.containers.uploadTar(id, body, q.mode as TarMode, { allowDevices: q.allowDevices === '1' }));
  }

  @Get(':id/stat')
  async stat(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Query() q: Q): Promise<void> {
    this.send(reply, await this.containers.stat(id, q.path!));
  }

  @Get(':id/dir')
  async listDir(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Query() q: Q): Promise<void> {
    this.send(reply, await this.containers.listDir(id, q.path!));
  }

  @Get(':id/changes')
  async diff(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    this.send(reply, await this.containers.diff(id));
  }

  @Post(':id/pause')
  async pause(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    this.send(reply, await this.containers.pause(id));
  }

  @Post(':id/unpause')
  async unpause(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    this.send(reply, await this.containers.unpause(id));
  }

  @Post(':id/snapshot')
  async snapshot(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Query() q: Q): Promise<void> {
    this.send(reply, await this.containers.snapshot(id, q.holder || undefined));
  }

  @Post(':id/release')
  async release(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Query() q: Q): Promise<void> {
    await this.containers.release(id, q.holder!);
    this.send(reply, undefined);
  }
}
