// Replication = copy(local, remote): an image or index from here to another registry (docker push,
// Harbor replication) through libs/oci's copy into a RemoteImageSink: every blob once (skipped when
// the target has it, mounted where we pushed it before, else uploaded), manifests children first
// by digest, the tag last, with progress reports.
import type Redis from 'ioredis';
import { copy, isDigest, type Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import { localArtifact } from '@stevedore/images';
import { RemoteImageSink } from './remote-image-sink';
import type { UpstreamClients } from './upstream-clients';

export interface ReplicateJobData {
  source: { name: string; reference: string };
  target: { upstream: string; name: string; tag?: string };
  /** Set when a replication rule enqueued the job. */
  rule?: string;
}

export interface ReplicateProgress {
  phase: 'planning' | 'blobs' | 'manifests' | 'done';
  blobs: { done: number; total: number };
  bytes: { done: number; total: number };
  manifests: { done: number; total: number };
}

export interface ReplicateResult {
  digest: Digest;
  target: string;
  blobs: { uploaded: number; mounted: number; existing: number };
  bytes: number;
}

const BLOB_CONCURRENCY = 3;

export class Replicator {
  constructor(
    private readonly blobs: BlobService,
    private readonly metadata: MetadataService,
    private readonly clients: UpstreamClients,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async replicate(job: ReplicateJobData, onProgress: (p: ReplicateProgress) => void | Promise<void> = () => undefined): Promise<ReplicateResult> {
    const { record, registry } = await this.clients.byId(job.target.upstream);
    const report = (p: ReplicateProgress) => Promise.resolve(onProgress(p)).catch(() => undefined);
    await report({ phase: 'planning', blobs: { done: 0, total: 0 }, bytes: { done: 0, total: 0 }, manifests: { done: 0, total: 0 } });
    const source = await localArtifact(this.blobs, this.metadata, job.source.name, job.source.reference);
    const tag = job.target.tag ?? (isDigest(job.source.reference) ? undefined : job.source.reference);
    const copied = await copy([{ artifact: source, targets: [tag === undefined ? { repository: job.target.name } : { repository: job.target.name, tag }] }], new RemoteImageSink(registry, record.id, this.redis, this.keys), {
      concurrency: BLOB_CONCURRENCY,
      onProgress: (p) => void report({ ...p, phase: p.phase === 'tags' ? 'manifests' : p.phase }),
    });
    const top = copied.artifacts[0];
    const ref = tag === undefined ? `@${top.digest}` : `:${tag}`;
    return {
      digest: top.digest,
      target: `${record.url.replace(/^https?:\/\//, '')}/${job.target.name}${ref}`,
      blobs: { uploaded: copied.blobs.uploaded, mounted: copied.blobs.mounted, existing: copied.blobs.exists },
      bytes: copied.bytes,
    };
  }
}
