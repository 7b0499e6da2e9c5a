// Replication = copy(local, remote): an image or index from here to another registry (docker push,
// Harbor replication) through libs/oci's copy into a RemoteImageSink: every blob once (skipped when
// the target has it, mounted where we pushed it before, else uploaded), manifests children first
// by digest, the tag last, with progress reports.
import type Redis from 'ioredis';
import { copy, type CopyProgress, type Digest, type LocalReference } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import { localArtifact } from '@stevedore/images';
import { RemoteImageSink } from './remote-image-sink';
import type { UpstreamClients } from './upstream-clients';

export interface ReplicateJobData {
  /** What to copy: a local repository and its tag or digest. */
  source: LocalReference;
  target: { upstream: string; name: string; tag?: string };
  /** Set when a replication rule enqueued the job. */
  rule?: string;
}

/** A copy's progress, with the planning step before it. */
export type ReplicateProgress = Omit<CopyProgress, 'phase'> & { phase: 'planning' | CopyProgress['phase'] };

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

  async replicate(
    job: ReplicateJobData,
    onProgress: (p: ReplicateProgress) => void | Promise<void> = () => undefined,
  ): Promise<ReplicateResult> {
    const { record, registry } = await this.clients.byId(job.target.upstream);
    const report = (p: ReplicateProgress) => Promise.resolve(onProgress(p)).catch(() => undefined);
    await report({ phase: 'planning', blobs: { done: 0, total: 0 }, bytes: { done: 0, total: 0 }, manifests: { done: 0, total: 0 } });
    const source = await localArtifact(this.blobs, this.metadata, job.source);
    // The target gets the source's tag unless told otherwise; a copy by digest stays untagged.
    const tag = job.target.tag ?? (job.source.digest ? undefined : job.source.tag);
    const copied = await copy(
      [{ artifact: source, targets: [tag === undefined ? { repository: job.target.name } : { repository: job.target.name, tag }] }],
      new RemoteImageSink(registry, record.id, this.redis, this.keys),
      {
        concurrency: BLOB_CONCURRENCY,
        onProgress: (p) => void report(p),
      },
    );
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
