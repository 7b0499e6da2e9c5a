// Copying an image from here to another registry (docker push, Harbor replication): the manifest
// tree (index children first, then the top manifest), every blob once (skipped when the target has
// it, mounted from another repository of the target when we pushed it there before, else uploaded
// monolithic or chunked), with progress reports.
import type Redis from 'ioredis';
import { RegistryError, isDigest, parseManifest, type Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService, StoredManifest } from '@stevedore/metadata';
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
/** How long "this blob is in that repository of the target" is remembered for mounts. */
const PUSHED_TTL_SECONDS = 30 * 24 * 3600;

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
    const progress: ReplicateProgress = { phase: 'planning', blobs: { done: 0, total: 0 }, bytes: { done: 0, total: 0 }, manifests: { done: 0, total: 0 } };
    const report = () => Promise.resolve(onProgress(structuredClone(progress))).catch(() => undefined);

    // Plan: every manifest (children before parents) and every distinct blob.
    const top = await this.metadata.getManifest(job.source.name, job.source.reference);
    const manifests: StoredManifest[] = [];
    const blobs = new Map<Digest, number>();
    const walk = async (m: StoredManifest, depth: number): Promise<void> => {
      if (depth > 4) throw new RegistryError('MANIFEST_INVALID', 'index nesting too deep', { digest: m.digest });
      const parsed = parseManifest(m.bytes, m.mediaType);
      if (parsed.isIndex) {
        for (const child of parsed.references) await walk(await this.metadata.getManifest(job.source.name, child.digest), depth + 1);
      } else {
        for (const b of parsed.references) blobs.set(b.digest as Digest, b.size);
      }
      if (!manifests.some((x) => x.digest === m.digest)) manifests.push(m);
    };
    await walk(top, 0);
    progress.phase = 'blobs';
    progress.blobs.total = blobs.size;
    progress.bytes.total = [...blobs.values()].reduce((a, b) => a + b, 0);
    progress.manifests.total = manifests.length;
    await report();

    const counts = { uploaded: 0, mounted: 0, existing: 0 };
    const queue = [...blobs.entries()];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [digest, size] = next;
        const pushedKey = this.keys.key('upstream', 'pushed', record.id, digest);
        const mountFrom = (await this.redis.get(pushedKey)) ?? undefined;
        const open = async () => {
          const c = await this.blobs.open(job.source.name, digest);
          if (!c.stream) throw new RegistryError('BLOB_UNKNOWN', 'blob has no readable stream', { digest });
          return c.stream;
        };
        const result = await registry.pushBlob(job.target.name, digest, size, open, mountFrom, (n) => {
          progress.bytes.done += n;
        });
        counts[result === 'exists' ? 'existing' : result]++;
        // Uploads counted their bytes as they went; a skip or mount moves the whole blob at once.
        if (result !== 'uploaded') progress.bytes.done += size;
        await this.redis.set(pushedKey, job.target.name, 'EX', PUSHED_TTL_SECONDS);
        progress.blobs.done++;
        await report();
      }
    };
    await Promise.all(Array.from({ length: Math.min(BLOB_CONCURRENCY, queue.length) }, worker));

    progress.phase = 'manifests';
    for (const m of manifests) {
      const isTop = m.digest === top.digest;
      const tag = isTop ? (job.target.tag ?? (isDigest(job.source.reference) ? undefined : job.source.reference)) : undefined;
      await registry.putManifest(job.target.name, tag ?? m.digest, m.bytes, m.mediaType);
      progress.manifests.done++;
      await report();
    }
    progress.phase = 'done';
    await report();
    const ref = job.target.tag ?? (isDigest(job.source.reference) ? `@${top.digest}` : job.source.reference);
    return { digest: top.digest, target: `${record.url.replace(/^https?:\/\//, '')}/${job.target.name}${ref.startsWith('@') ? ref : `:${ref}`}`, blobs: counts, bytes: progress.bytes.total };
  }
}
