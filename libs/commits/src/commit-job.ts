// `docker commit` as BullMQ jobs on queue `commit`: typed payloads and results, the idempotent job id,
// and the request schemas. A job carries the read-write layer as it was when the commit was asked
// for, and its own creation time, so any worker that runs it (again) builds the same image.
import { createHash } from 'node:crypto';
import type { CommitSpec } from '@stevedore/api-contract';
import type { ContainerImage, Entry } from '@stevedore/containers';
import type { Digest, ErrorBody } from '@stevedore/oci';

// The request shapes are the API contract's; the job payloads below are this lib's own.
export { CommitSpecSchema, BatchRequestSchema as BatchSchema, type CommitSpec } from '@stevedore/api-contract';

export interface CommitTarget {
  repository: string;
  tag: string;
}

export interface CommitJobData {
  kind: 'commit';
  spec: CommitSpec;
  target: CommitTarget;
  image: ContainerImage;
  generation: number;
  /** The read-write layer at submission. */
  entries: Entry[];
  /** When the commit was asked for (whole seconds, ISO): the image's `created`, whatever worker runs it. */
  created: string;
  /** The pause this job holds on the container (released when the job ends), when `pause` is set. */
  holder?: string;
  requestId?: string;
  /** Who asked (the container's owner, or an admin): they and admins may see and cancel it. */
  owner?: string;
}

export interface BatchJobData {
  kind: 'batch';
  count: number;
  created: string;
  children: BatchItem[];
  /** Specs refused before they became jobs (missing container, bad tag), reported with the rest. */
  rejected: BatchItem[];
  requestId?: string;
  owner?: string;
}

export interface CommitResult {
  reference: string;
  repository: string;
  tag: string;
  /** The image (manifest) digest. */
  digest: Digest;
  configDigest: Digest;
  /** The new layer; absent when the read-write layer was empty (an `empty_layer` history entry). */
  layer?: { digest: Digest; diffId: Digest; size: number; uncompressedSize: number };
  files: number;
  bytes: number;
}

export interface BatchItem {
  id: string;
  reference: string;
  digest?: Digest;
  error?: ErrorBody;
}

export interface BatchResult {
  total: number;
  succeeded: number;
  failed: number;
  items: BatchItem[];
}

export interface CommitProgress {
  phase: 'queued' | 'layer' | 'config' | 'manifest' | 'tag' | 'done';
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

/** Same container state, image and options: same id, so a repeated request finds the same job. */
export function commitJobId(data: Pick<CommitJobData, 'spec' | 'target' | 'image' | 'entries'>): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({
      container: data.spec.container,
      image: data.image.manifestDigest,
      target: data.target,
      author: data.spec.author ?? null,
      message: data.spec.message ?? null,
      changes: data.spec.changes,
      pause: data.spec.pause,
    }),
  );
  h.update(JSON.stringify(data.entries));
  return `commit-${h.digest('hex').slice(0, 40)}`;
}

export function batchJobId(children: string[]): string {
  return `batch-${createHash('sha256').update(children.join('\n')).digest('hex').slice(0, 40)}`;
}

export const JOB_ID_RE = /^(commit|batch)-[a-f0-9]{40}$/;
export const COMMIT_ATTEMPTS = 5;
export const JOB_RETENTION_SECONDS = 7 * 24 * 3600;

/** Whole seconds: tar headers and Docker's `created` both hold them, and reruns must agree. */
export function commitTime(now = Date.now()): string {
  return new Date(Math.floor(now / 1000) * 1000).toISOString();
}
