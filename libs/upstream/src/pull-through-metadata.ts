// MetadataService with pull-through: a manifest GET/HEAD for an upstream-served name that is not
// here (or, for a tag, is past its TTL) is fetched from the upstream and cached. Digests never go
// stale; tags are revalidated with a HEAD (cheap, and not counted by Docker Hub's pull limit) and
// fetched only when the digest moved. Only tags that came from the upstream are revalidated: a
// tag pushed here is ours and never replaced by the upstream's. When the upstream fails (down, 429, refuses us) and a copy
// is here, the copy is served. Also the hook point for replication rules: every tag written through
// the registry API is reported to `onTagWritten`.
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { RegistryError, isDigest, type Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { MetadataService, PutManifestOptions, PutManifestResult, StoredManifest } from '@stevedore/metadata';
import type { UpstreamClients } from './upstream-clients';
import type { UpstreamMapping } from './upstream-mapping';
import type { UpstreamStore } from './upstream-store';
import { SingleFlight } from './single-flight';

export interface PullThroughOptions {
  /** Seconds a tag fetched from upstream is served without asking again. */
  manifestTtlSeconds: number;
  /** After an upstream failure with a copy here, how long to serve the copy before asking again. */
  failureBackoffSeconds?: number;
}

export type TagWrittenListener = (name: string, tag: string, digest: Digest) => void | Promise<void>;

const isTag = (reference: string) => !isDigest(reference) && !reference.includes(':');

export class PullThroughMetadataService implements MetadataService {
  private readonly logger = new Logger('pull-through');
  private readonly flights = new SingleFlight<StoredManifest>();

  constructor(
    private readonly inner: MetadataService,
    private readonly upstreams: UpstreamStore,
    private readonly clients: UpstreamClients,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: PullThroughOptions,
    private readonly onTagWritten?: TagWrittenListener,
  ) {}

  private freshKey(name: string, tag: string): string {
    return this.keys.repo(name, 'upstream-fresh', tag);
  }

  /** Marks a tag as the upstream's (cached by pull-through); a local push removes it. */
  private originKey(name: string, tag: string): string {
    return this.keys.repo(name, 'upstream-origin', tag);
  }

  /**
   * Whether a tag that is here should be revalidated: only tags that came from the upstream, and
   * only past their TTL. A tag pushed here is never overwritten by the upstream's tag of that name.
   */
  private async due(name: string, reference: string): Promise<boolean> {
    if (!isTag(reference)) return false;
    const [origin, fresh] = await this.redis.mget(this.originKey(name, reference), this.freshKey(name, reference));
    return origin !== null && fresh === null;
  }

  private async mapping(name: string): Promise<UpstreamMapping | undefined> {
    try {
      return await this.upstreams.resolve(name);
    } catch (e) {
      // The upstream list is unreadable: local content still serves.
      this.logger.warn(`cannot read upstreams: ${(e as Error).message}`);
      return undefined;
    }
  }

  async getManifest(name: string, reference: string): Promise<StoredManifest> {
    const mapping = await this.mapping(name);
    if (!mapping) return this.inner.getManifest(name, reference);
    let local: StoredManifest | undefined;
    try {
      local = await this.inner.getManifest(name, reference);
    } catch (e) {
      if (!RegistryError.is(e, 'MANIFEST_UNKNOWN')) throw e;
    }
    if (local && !(await this.due(name, reference))) return local;
    try {
      return await this.flights.run(`${name}\n${reference}`, () => this.fetch(mapping, name, reference, local));
    } catch (e) {
      if (!local) throw e;
      const why = e instanceof RegistryError ? e.code : (e as Error).message;
      this.logger.warn(`upstream ${mapping.upstream.id} failed for ${name}:${reference} (${why}); serving the cached copy`);
      const backoff = Math.min(this.options.failureBackoffSeconds ?? 30, Math.max(1, this.options.manifestTtlSeconds));
      await this.redis.set(this.freshKey(name, reference), 'stale', 'EX', backoff);
      return local;
    }
  }

  private async fetch(mapping: UpstreamMapping, name: string, reference: string, local: StoredManifest | undefined): Promise<StoredManifest> {
    const registry = this.clients.for(mapping.upstream);
    if (local) {
      const head = await registry.headManifest(mapping.remoteName, reference);
      if (head?.digest === local.digest) {
        await this.markFresh(name, reference);
        return local;
      }
    }
    const m = await registry.getManifest(mapping.remoteName, reference);
    const r = await this.inner.putManifest(name, reference, m.bytes, m.mediaType, { allowMissingReferences: true });
    if (isTag(reference)) {
      await this.redis.set(this.originKey(name, reference), '1');
      await this.markFresh(name, reference);
    }
    return { digest: r.digest, mediaType: r.mediaType, size: m.bytes.length, bytes: m.bytes };
  }

  private async markFresh(name: string, tag: string): Promise<void> {
    if (this.options.manifestTtlSeconds > 0) await this.redis.set(this.freshKey(name, tag), '1', 'EX', this.options.manifestTtlSeconds);
  }

  async putManifest(name: string, reference: string, bytes: Buffer, contentType: string | undefined, options?: PutManifestOptions): Promise<PutManifestResult> {
    const r = await this.inner.putManifest(name, reference, bytes, contentType, options);
    // A push makes the tag ours: the upstream's tag of that name no longer replaces it.
    if (isTag(reference)) {
      await this.redis.del(this.originKey(name, reference));
      this.tagWritten(name, reference, r.digest);
    }
    return r;
  }

  async tagManifest(name: string, tag: string, digest: Digest): Promise<void> {
    await this.inner.tagManifest(name, tag, digest);
    await this.redis.del(this.originKey(name, tag));
    this.tagWritten(name, tag, digest);
  }

  private tagWritten(name: string, tag: string, digest: Digest): void {
    if (!this.onTagWritten) return;
    Promise.resolve()
      .then(() => this.onTagWritten!(name, tag, digest))
      .catch((e) => this.logger.warn(`replication hook for ${name}:${tag} failed: ${(e as Error).message}`));
  }

  deleteManifest(name: string, digest: Digest): Promise<void> {
    return this.inner.deleteManifest(name, digest);
  }
  deleteTag(name: string, tag: string): Promise<void> {
    return this.inner.deleteTag(name, tag);
  }
  listTags(name: string, n?: number, last?: string) {
    return this.inner.listTags(name, n, last);
  }
  tagsOf(name: string, digest: Digest) {
    return this.inner.tagsOf(name, digest);
  }
  catalog(n?: number, last?: string) {
    return this.inner.catalog(n, last);
  }
  referrers(name: string, subject: Digest, artifactType?: string) {
    return this.inner.referrers(name, subject, artifactType);
  }
  tagHistory(name: string, tag: string) {
    return this.inner.tagHistory(name, tag);
  }
  reindex() {
    return this.inner.reindex();
  }
}
