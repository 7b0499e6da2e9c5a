// /api/v1/containers: docker create/ps/inspect/rm, file operations on the read-write layer, reads
// through the merged view, diff, pause and unpause. Paths are container paths, given as `?path=`.
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CreateContainerRequestSchema, FileOpRequestSchema, apiRoutes, type AnswerOf } from '@stevedore/api-contract';
import { parseBody, requestBody } from '@stevedore/images';
import { RegistryError, parseLocalReference } from '@stevedore/oci';
import { Access, callerOf, ownerFor, parseQuery, type RoutePolicy } from '@stevedore/platform';
import { AccessPolicy } from '@stevedore/registry';
import type { ContainerView } from './container';
import { CONTAINER_SERVICE, type ContainerService } from './container-service';

function num(v: string | undefined, name: string, radix = 10): number | undefined {
  if (v === undefined || v === '') return undefined;
  // Whole string in the radix's digits: parseInt alone would take "12abc" as 12.
  const n = (radix === 8 ? /^[0-7]{1,7}$/ : /^\d{1,10}$/).test(v) ? parseInt(v, radix) : NaN;
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RegistryError('INVALID_REQUEST', `\`${name}\` must be a non-negative integer`, { [name]: v });
  return n;
}

// A container is owned by its creator; reading what it holds needs pull on its image repository now.
const read: RoutePolicy = { role: 'authenticated', resource: { kind: 'container', action: 'read' } };
const content: RoutePolicy = { role: 'authenticated', resource: { kind: 'container', action: 'content' } };
const change: RoutePolicy = { role: 'authenticated', resource: { kind: 'container', action: 'change' } };

@Controller('api/v1/containers')
export class ContainersController {
  constructor(
    @Inject(CONTAINER_SERVICE) private readonly containers: ContainerService,
    private readonly policy: AccessPolicy,
  ) {}

  @Post()
  @HttpCode(201)
  @Access({
    role: 'authenticated',
    repositories: (req) => [
      {
        type: 'repository',
        name: parseLocalReference(parseBody(CreateContainerRequestSchema, req.body).image, { defaultTag: true }).name,
        actions: ['pull'],
      },
    ],
    description: 'pull on the image; the caller owns the container',
  })
  async create(@Req() req: FastifyRequest, @Body() body: unknown): Promise<AnswerOf<'createContainer'>> {
    const spec = parseBody(CreateContainerRequestSchema, body);
    const owner = ownerFor(req);
    return this.containers.create({ ...spec, ...(owner ? { owner } : {}) });
  }

  @Get()
  @Access({ role: 'authenticated', lists: 'containers the caller owns (admins: all)' })
  async list(@Req() req: FastifyRequest): Promise<AnswerOf<'listContainers'>> {
    const all = await this.containers.list();
    const shown: ContainerView[] = [];
    for (const c of all) if (await this.policy.sees(req, { owner: c.owner, repositories: [c.image.repository] })) shown.push(c);
    return { containers: shown };
  }

  @Get(':id')
  @Access(read)
  async inspect(@Param('id') cid: string): Promise<AnswerOf<'inspectContainer'>> {
    return this.containers.inspect(cid);
  }

  @Delete(':id')
  @HttpCode(204)
  @Access(change)
  async remove(@Param('id') cid: string): Promise<void> {
    await this.containers.remove(cid);
  }

  /** Write a file from the raw body (streamed to storage): `PUT ...?path=/etc/motd&mode=0644&uid=0&gid=0`. */
  @Put(':id/files')
  @HttpCode(201)
  @Access(change)
  async writeFile(
    @Req() req: FastifyRequest,
    @Param('id') cid: string,
    @Query() q: Record<string, string | undefined>,
  ): Promise<AnswerOf<'writeFile'>> {
    const { path } = parseQuery(apiRoutes.writeFile.query, q);
    return this.containers.writeFile(cid, path, requestBody(req), {
      mode: num(q.mode, 'mode', 8),
      uid: num(q.uid, 'uid'),
      gid: num(q.gid, 'gid'),
    });
  }

  /** Read a file through the merged view. */
  @Get(':id/files')
  @Access(content)
  async readFile(
    @Res() reply: FastifyReply,
    @Param('id') cid: string,
    @Query() q: Record<string, string | undefined>,
  ): Promise<FastifyReply> {
    const { entry, stream } = await this.containers.readFile(cid, parseQuery(apiRoutes.readFile.query, q).path);
    return reply
      .code(200)
      .header('content-type', 'application/octet-stream')
      .header('content-length', String(entry.size))
      .header('x-file-mode', entry.mode.toString(8).padStart(4, '0'))
      .send(stream);
  }

  @Delete(':id/files')
  @HttpCode(204)
  @Access(change)
  async removeFile(@Param('id') cid: string, @Query() q: Record<string, string | undefined>): Promise<void> {
    const { path, recursive } = parseQuery(apiRoutes.removeFile.query, q);
    await this.containers.apply(cid, { op: 'remove', path, recursive: recursive === '1' || recursive === 'true' });
  }

  @Get(':id/stat')
  @Access(content)
  async stat(@Param('id') cid: string, @Query() q: Record<string, string | undefined>): Promise<AnswerOf<'statPath'>> {
    return this.containers.stat(cid, parseQuery(apiRoutes.statPath.query, q).path);
  }

  /** List a directory through the merged view. */
  @Get(':id/dir')
  @Access(content)
  async listDir(@Param('id') cid: string, @Query() q: Record<string, string | undefined>): Promise<AnswerOf<'listDir'>> {
    return { entries: await this.containers.listDir(cid, parseQuery(apiRoutes.listDir.query, q).path ?? '/') };
  }

  /** mkdir, symlink, chmod, chown, remove, rename as JSON: `{"op":"mkdir","path":"/srv","parents":true}`. */
  @Post(':id/ops')
  @Access(change)
  async op(@Param('id') cid: string, @Body() body: unknown): Promise<AnswerOf<'fileOp'>> {
    const entry = await this.containers.apply(cid, parseBody(FileOpRequestSchema, body));
    return entry ? { entry } : {};
  }

  /**
   * Upload a tar (plain or gzip): `mode=overlay` (default) is an upper dir with whiteouts applied over
   * the container; `mode=rootfs` is a whole filesystem, diffed against the image.
   */
  @Put(':id/archive')
  @Access(change)
  async upload(
    @Req() req: FastifyRequest,
    @Param('id') cid: string,
    @Query() q: Record<string, string | undefined>,
  ): Promise<AnswerOf<'putArchive'>> {
    const m = parseQuery(apiRoutes.putArchive.query, q).mode ?? 'overlay';
    return this.containers.uploadTar(cid, requestBody(req), m, { allowDevices: callerOf(req).admin });
  }

  @Get(':id/changes')
  @Access(content)
  async changes(@Param('id') cid: string): Promise<AnswerOf<'containerChanges'>> {
    return { changes: await this.containers.diff(cid) };
  }

  @Post(':id/pause')
  @HttpCode(200)
  @Access(change)
  async pause(@Param('id') cid: string): Promise<AnswerOf<'pauseContainer'>> {
    return this.containers.pause(cid);
  }

  @Post(':id/unpause')
  @HttpCode(200)
  @Access(change)
  async unpause(@Param('id') cid: string): Promise<AnswerOf<'unpauseContainer'>> {
    return this.containers.unpause(cid);
  }
}
