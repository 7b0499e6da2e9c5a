// /api/v1/exports: `docker save` as a job. POST queues it (references are resolved first, so a bad
// one is refused at once); GET reports state and progress; /archive streams the finished tarball.
import { randomUUID } from 'node:crypto';
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ExportRequestSchema, type AnswerOf } from '@stevedore/api-contract';
import { RegistryError, parseLocalReference } from '@stevedore/oci';
import { Access, STORAGE, ownerFor } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { METADATA_SERVICE, type MetadataService } from '@stevedore/metadata';
import { archiveSuffix, assertCompressionAvailable, planExport, type ExportProgress, type ExportResult } from './archive-export';
import { ImageJobQueues } from './image-job-queues';
import { ImageJobPaths, JOB_RETENTION_SECONDS, jobStatus } from './image-jobs';
import { parseBody } from './images-options';

const referencedRepositories = (body: unknown) => [
  ...new Set(parseBody(ExportRequestSchema, body).references.map((r) => parseLocalReference(r).name)),
];

@Controller('api/v1/exports')
export class ExportsController {
  constructor(
    private readonly queues: ImageJobQueues,
    @Inject(METADATA_SERVICE) private readonly metadata: MetadataService,
    @Inject(STORAGE) private readonly storage: StorageDriver,
  ) {}

  @Post()
  @HttpCode(202)
  @Access({
    role: 'authenticated',
    repositories: (req) => referencedRepositories(req.body).map((name) => ({ type: 'repository', name, actions: ['pull'] })),
    description: 'pull on every reference; the caller owns the export',
  })
  async create(@Req() req: FastifyRequest, @Body() body: unknown): Promise<AnswerOf<'createExport'>> {
    const spec = parseBody(ExportRequestSchema, body);
    assertCompressionAvailable(spec.compression);
    const plan = await planExport(this.metadata, spec);
    const id = randomUUID();
    const owner = ownerFor(req);
    await this.queues.exports.add(
      'export',
      { ...spec, ...(owner ? { owner } : {}) },
      {
        jobId: id,
        attempts: 1,
        removeOnComplete: { age: JOB_RETENTION_SECONDS },
        removeOnFail: { age: JOB_RETENTION_SECONDS },
      },
    );
    return {
      id,
      kind: 'export',
      state: 'waiting',
      progress: { phase: 'planning', bytes: 0, totalBytes: plan.reduce((a, p) => a + p.size, 0), percent: 0 },
      attempts: 0,
      createdAt: new Date().toISOString(),
      links: this.links(id),
    };
  }

  private links(id: string): Record<string, string> {
    return { self: `/api/v1/exports/${id}`, archive: `/api/v1/exports/${id}/archive` };
  }

  @Get(':id')
  @Access({ role: 'authenticated', resource: { kind: 'export', action: 'read' } })
  async status(@Param('id') id: string): Promise<AnswerOf<'exportStatus'>> {
    const { status } = await jobStatus<ExportProgress, ExportResult, 'export'>(this.queues.exports, 'export', id);
    return { ...status, links: this.links(id) };
  }

  @Get(':id/archive')
  @Access({
    role: 'authenticated',
    resource: { kind: 'export', action: 'content' },
    description: 'the owner (or an admin), with pull on every repository it holds now',
  })
  async archive(@Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    const { status } = await jobStatus<ExportProgress, ExportResult, 'export'>(this.queues.exports, 'export', id);
    if (status.state !== 'completed' || !status.result) {
      throw new RegistryError('CONFLICT', `export ${id} is ${status.state}; the archive is ready when it is completed`, {
        state: status.state,
        error: status.error,
      });
    }
    const a = status.result.archive;
    const info = await this.storage.stat(a.path);
    if (!info) throw new RegistryError('NOT_FOUND', `the archive of export ${id} is gone`, { id });
    const stream = await this.storage.reader(a.path);
    reply
      .code(200)
      .header('content-type', a.mediaType)
      .header('content-length', String(info.size))
      .header('content-disposition', `attachment; filename="stevedore-${id}${archiveSuffix(a.compression)}"`)
      .header('x-archive-digest', a.digest);
    await reply.send(stream);
  }

  /** Removes the job and its archive. */
  @Delete(':id')
  @HttpCode(204)
  @Access({ role: 'authenticated', resource: { kind: 'export', action: 'change' } })
  async remove(@Param('id') id: string): Promise<void> {
    const { job, status } = await jobStatus(this.queues.exports, 'export', id);
    if (status.state === 'active') throw new RegistryError('CONFLICT', `export ${id} is running`, { state: status.state });
    await job.remove();
    await this.storage.delete(ImageJobPaths.exportArchive(id));
  }
}
