// The export (save) and import (load) job handlers, run wherever the target runs workers
// ('all', 'commit-worker'). Failures are final (a bad archive does not get better on retry) and
// carry the RegistryError body so the status route can show it as the API would.
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Job, Worker } from 'bullmq';
import {
  CONFIG,
  QueueNames,
  ReadinessChecks,
  STORAGE,
  closeBullmq,
  finalJob,
  startWorker,
  type StevedoreConfig,
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
    const options = { concurrency: 1, log: this.logger, readiness: this.readiness };
    this.workers = [
      startWorker(
        this.config,
        QueueNames.export,
        finalJob(this.logger, (job) => this.runExport(job)),
        options,
      ),
      startWorker(
        this.config,
        QueueNames.import,
        finalJob(this.logger, (job) => this.runImport(job)),
        options,
      ),
    ];
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.workers.map((w) => closeBullmq(w, 2000)));
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
