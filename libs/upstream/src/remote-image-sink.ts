// Another registry as the sink of a copy (docker push, replication): blobs through RemoteRegistry's
// pushBlob (skipped when the target has them, mounted from another repository of the target when a
// copy put them there before, else uploaded), manifests by digest, then tags as a PUT of the same
// bytes under the tag. Where the target holds each blob is remembered in Redis for later mounts.
import { upstreamKeys } from './upstream-layout';
import type Redis from 'ioredis';
import { RegistryError, type BlobOutcome, type Digest, type ImageSink, type SinkBlob } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { RemoteRegistry } from './remote-registry';

/** How long "this blob is in that repository of the target" is remembered for mounts. */
const PUSHED_TTL_SECONDS = 30 * 24 * 3600;

export class RemoteImageSink implements ImageSink {
  readonly store: string;
  private readonly manifests = new Map<Digest, { bytes: Buffer; mediaType: string }>();

  constructor(
    private readonly registry: RemoteRegistry,
    private readonly upstreamId: string,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.store = `upstream:${upstreamId}`;
  }

  private pushedKey(digest: Digest): string {
    return upstreamKeys(this.keys).pushed(this.upstreamId, digest);
  }

  async putBlob(
    repository: string,
    blob: SinkBlob,
    storedIn: readonly string[],
  ): Promise<{ outcome: BlobOutcome; digest: Digest; size: number }> {
    if (!blob.digest || blob.size === undefined)
      throw new RegistryError('INVALID_REQUEST', 'a remote registry takes blobs whose digest and size are known');
    const mountFrom = storedIn[0] ?? (await this.redis.get(this.pushedKey(blob.digest))) ?? undefined;
    const outcome = await this.registry.pushBlob(repository, blob.digest, blob.size, () => blob.open(), mountFrom);
    await this.redis.set(this.pushedKey(blob.digest), repository, 'EX', PUSHED_TTL_SECONDS);
    return { outcome, digest: blob.digest, size: blob.size };
  }

  async putManifest(repository: string, digest: Digest, bytes: Buffer, mediaType: string): Promise<void> {
    await this.registry.putManifest(repository, digest, bytes, mediaType);
    this.manifests.set(digest, { bytes, mediaType });
  }

  async tag(repository: string, tag: string, digest: Digest): Promise<void> {
    const m = this.manifests.get(digest);
    if (!m) throw new RegistryError('MANIFEST_UNKNOWN', 'a tag is written after its manifest, in the same copy', { digest });
    await this.registry.putManifest(repository, tag, m.bytes, m.mediaType);
  }
}
