// The export (save) and import (load) job handlers, run wherever the target runs workers
// ('all', 'commit-worker'). Failures are final (a bad archive does not get better on retry) and
// carry the RegistryError body so the status route can show it as the API would.
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import {
  CONFIG,
  QueueNames,
  ReadinessChecks,
  STORAGE,
  createWorker,
  jobFailure,
  workerReadiness,
  type StevedoreConfig,
  closeBullmq,
} from '@stevedore/platform';
import { BLOB_SERVICE, type BlobService } from '@stevedore/blobs';
import { METADATA_SERVICE, type MetadataService } from '@stevedore/metadata';
import type { StorageDriver } from '@stevedore/storage';
import { planExport, writeExport, type ExportResult } from './archive-export';
import { loadArchive, type LoadReport } from './archive-load';
import { ImageJobPaths, type ExportJobData, type ImportJobData } from './image-jobs';
import { LAYER_SIZES, type LayerSizeCache } from './layer-size-cache';

@Injectable()
export class ImageJobWorkers implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('image-jobs');
  private workers: Worker[] = [];

  constructor(
    @Inject(CONFIG) private readonly config: StevedoreConfig,
    @Inject(STORAGE) private readonly storage: StorageDriver,
    @Inject(BLOB_SERVICE) private readonly blobs: BlobService,
    @Inject(METADATA_SERVICE) private readonly metadata: MetadataService,
    @Inject(LAYER_SIZES) private readonly sizes: LayerSizeCache,
    @Inject(ReadinessChecks) private readonly readiness: ReadinessChecks,
  ) {}

  onModuleInit(): void {
    this.workers = [
      createWorker(this.config, QueueNames.export, (job) => this.final(job, () => this.runExport(job)), { concurrency: 1 }),
      createWorker(this.config, QueueNames.import, (job) => this.final(job, () => this.runImport(job)), { concurrency: 1 }),
    ];
    for (const w of this.workers) {
      w.on('error', (e) => this.logger.warn(`${w.name} worker: ${e.message}`));
      this.readiness.add(`${w.name}-queue`, workerReadiness(w));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.workers.map((w) => closeBullmq(w, 2000)));
  }

  private async final<T>(job: Job, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      this.logger.warn(`${job.queueName} job ${job.id} failed: ${(e as Error).message}`);
      throw new UnrecoverableError(jobFailure(e));
    }
  }

  async runExport(job: Job<ExportJobData>): Promise<ExportResult> {
    const plan = await planExport(this.metadata, job.data);
    return writeExport({ blobs: this.blobs, storage: this.storage }, plan, {
      path: ImageJobPaths.exportArchive(String(job.id)),
      compression: job.data.compression,
      onProgress: (p) => void job.updateProgress({ ...p }).catch(() => undefined),
    });
  }

  async runImport(job: Job<ImportJobData>): Promise<LoadReport> {
    const spoolDir = path.resolve(this.config.STEVEDORE_DATA_DIR, 'spool');
    await mkdir(spoolDir, { recursive: true });
    try {
      const input = await this.storage.reader(job.data.upload);
      return await loadArchive({ blobs: this.blobs, metadata: this.metadata, sizes: this.sizes }, input, {
        spoolDir,
        maxBytes: job.data.maxBytes,
        repository: job.data.repository,
        onProgress: (p) => void job.updateProgress({ ...p }).catch(() => undefined),
      });
    } finally {
      await this.storage.delete(job.data.upload).catch(() => undefined);
    }
  }
}
