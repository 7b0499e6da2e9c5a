// /api/v1/imports: `docker load` as a job. The upload is streamed to storage (never buffered) under
// the size limit, then a job loads it; GET reports state, progress and what was loaded.
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import { Controller, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RegistryError, parseLocalReference, ByteLimit } from '@stevedore/oci';
import { apiRoutes, type AnswerOf } from '@stevedore/api-contract';
import { Access, STORAGE, ownerFor, parseQuery } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import type { LoadProgress, LoadReport } from './archive-load';
import { teeChecked } from './archive-input';

import { ImageJobQueues } from './image-job-queues';
import { ImageJobPaths, JOB_RETENTION_SECONDS, jobStatus } from './image-jobs';
import { IMAGES_OPTIONS, parseLimit, requestBody, type ImagesOptions } from './images-options';

@Controller('api/v1/imports')
export class ImportsController {
  constructor(
    private readonly queues: ImageJobQueues,
    @Inject(STORAGE) private readonly storage: StorageDriver,
    @Inject(IMAGES_OPTIONS) private readonly options: ImagesOptions,
  ) {}

  // A load writes whatever repositories its archive names, known only once it is read: admins only.
  @Post()
  @HttpCode(202)
  @Access({ role: 'admin', description: 'a load may write any repository its archive names' })
  async create(
    @Req() req: FastifyRequest,
    @Query('repository') repository?: string,
    @Query('maxBytes') maxBytes?: string,
  ): Promise<AnswerOf<'createImport'>> {
    parseQuery(apiRoutes.createImport.query, req.query);
    if (repository) parseLocalReference(repository);
    const owner = ownerFor(req);
    const limit = parseLimit(maxBytes, this.options.maxArchiveBytes);
    const declared = Number(req.headers['content-length']);
    const body = requestBody(req);
    if (Number.isFinite(declared) && declared > limit) {
      body.resume();
      throw new RegistryError(
        'PAYLOAD_TOO_LARGE',
        `the archive (${declared} bytes) exceeds the limit of ${limit} bytes`,
        { limit, size: declared },
        413,
      );
    }
    const id = randomUUID();
    const upload = ImageJobPaths.importUpload(id);
    const counted = new ByteLimit(limit, 'the archive');
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    // Its failures surface through the pipelines around it; one after they settled must not crash.
    out.on('error', () => undefined);
    // The archive is read as a tar while it is stored: not a tar, unsafe, or a bomb is a 400 now,
    // not a job that fails later.
    const { bytes, checked, abort } = teeChecked(body, {
      maxBytes: limit,
      maxExpansionRatio: this.options.maxExpansionRatio,
      allowDevices: true,
    });
    const piped = pipeline(bytes, counted, out);
    const written = this.storage.writeStream(upload, out, Number.isFinite(declared) ? declared : undefined);
    // The first failure stops the others; the answer waits until all have let go of their files.
    const stop = (e: Error) => {
      abort(e);
      out.destroy(e);
    };
    for (const p of [checked, piped, written]) p.catch(stop);
    const settled = await Promise.allSettled([checked, piped, written]);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.storage.delete(upload).catch(() => undefined);
      // The check's reason is the answer, whichever stream noticed first.
      const reason: unknown = settled[0].status === 'rejected' ? settled[0].reason : failed.reason;
      if (RegistryError.is(reason)) throw reason;
      throw new RegistryError('INVALID_REQUEST', `the upload did not complete: ${(reason as Error).message}`);
    }
    if (counted.bytes === 0) {
      await this.storage.delete(upload);
      throw new RegistryError('INVALID_REQUEST', 'the request has no archive in its body');
    }
    await this.queues.imports.add(
      'import',
      { upload, size: counted.bytes, maxBytes: limit, ...(repository ? { repository } : {}), ...(owner ? { owner } : {}) },
      { jobId: id, attempts: 1, removeOnComplete: { age: JOB_RETENTION_SECONDS }, removeOnFail: { age: JOB_RETENTION_SECONDS } },
    );
    return {
      id,
      kind: 'import',
      state: 'waiting',
      progress: null,
      attempts: 0,
      createdAt: new Date().toISOString(),
      links: { self: `/api/v1/imports/${id}` },
    };
  }

  @Get(':id')
  @Access({ role: 'authenticated', resource: { kind: 'import', action: 'read' } })
  async status(@Param('id') id: string): Promise<AnswerOf<'importStatus'>> {
    const { status } = await jobStatus<LoadProgress, LoadReport, 'import'>(this.queues.imports, 'import', id);
    return { ...status, links: { self: `/api/v1/imports/${id}` } };
  }
}
