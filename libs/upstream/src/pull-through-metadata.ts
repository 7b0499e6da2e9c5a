// MetadataService with pull-through: a manifest GET/HEAD for an upstream-served name that is not
// here (or, for a tag, is past its TTL) is fetched from the upstream and cached. Digests never go
// stale; tags are revalidated with a HEAD (cheap, and not counted by Docker Hub's pull limit) and
// fetched only when the digest moved. Only tags that came from the upstream are revalidated: a
// tag pushed here is ours and never replaced by the upstream's. When the upstream fails (down, 429, refuses us) and a copy
// is here, the copy is served. Also the hook point for replication rules: every tag written through
// the registry API is reported to `onTagWritten`.
//
// Which tags are the upstream's is durable: an upstream-origins/<name>/_tags/<tag> object in
// storage (written before the Redis marker), indexed in Redis by the upstream-origin marker and
// rebuilt from storage by reindex() or, when this Redis lacks the origins-indexed flag (lost,
// flushed, reindexed by a process without this lib), before the first answer that needs it.
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import {
  RegistryError,
  copy,
  imageFromBlobs,
  indexFrom,
  isDigest,
  parseManifest,
  type Artifact,
  type Digest,
  referenceOf,
  type LocalReference,
} from '@stevedore/oci';
import { localManifestSink } from '@stevedore/images';
import type { RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import type { MetadataService, PutManifestOptions, PutManifestResult, StoredManifest } from '@stevedore/metadata';
import type { UpstreamClients } from './upstream-clients';
import type { UpstreamMapping } from './upstream-mapping';
import type { UpstreamStore } from './upstream-store';
import { SingleFlight } from './single-flight';
import { UpstreamLayout, parseOriginKey, type UpstreamOrigin, upstreamKeys } from './upstream-layout';

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
  private readonly originFlights = new SingleFlight<number>();
  /** When this process last saw the origins-indexed flag (reads trust it for a second). */
  private originsIndexedSeen = 0;

  constructor(
    private readonly inner: MetadataService,
    private readonly upstreams: UpstreamStore,
    private readonly clients: UpstreamClients,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly storage: StorageDriver,
    private readonly options: PullThroughOptions,
    private readonly onTagWritten?: TagWrittenListener,
  ) {}

  private freshKey(name: string, tag: string): string {
    return upstreamKeys(this.keys).fresh(name, tag);
  }

  /** Marks a tag as the upstream's (cached by pull-through); a local push removes it. */
  private originKey(name: string, tag: string): string {
    return upstreamKeys(this.keys).origin(name, tag);
  }

  /** Set when every upstream-origins/ object of storage is a marker in this Redis. */
  private originsIndexedKey(): string {
    return upstreamKeys(this.keys).originsIndexed();
  }

  /**
   * Whether a tag that is here should be revalidated: only tags that came from the upstream, and
   * only past their TTL. A tag pushed here is never overwritten by the upstream's tag of that name.
   */
  private async due(name: string, reference: string): Promise<boolean> {
    if (!isTag(reference)) return false;
    const [marker, fresh] = await this.redis.mget(this.originKey(name, reference), this.freshKey(name, reference));
    let origin = marker;
    // No marker is only an answer from a Redis that has the markers. This read trusts a flag seen
    // within the last second (a local tag costs no extra round trip on every pull); right after a
    // loss that only means a pulled-through tag is served unrevalidated a moment longer.
    if (origin === null && !(await this.originsIndexed(1000))) {
      try {
        await this.reindexOrigins();
        origin = await this.redis.get(this.originKey(name, reference));
      } catch (e) {
        // Storage unreadable: the local copy still serves; the rebuild is tried again next time.
        this.logger.warn(`cannot rebuild upstream origins from storage: ${(e as Error).message}`);
      }
    }
    return origin !== null && fresh === null;
  }

  /** Whether this Redis has the origin markers (a flag seen within `trustMs` counts). */
  private async originsIndexed(trustMs: number): Promise<boolean> {
    if (trustMs > 0 && Date.now() - this.originsIndexedSeen < trustMs) return true;
    const set = (await this.redis.exists(this.originsIndexedKey())) === 1;
    if (set) this.originsIndexedSeen = Date.now();
    return set;
  }

  /**
   * The tag is ours now (pushed or tagged here): remove the upstream's claim, storage first. Storage
   * is touched only when Redis has a marker, or has no answer (no origins-indexed flag: after a
   * loss, before the markers are rebuilt, a marker's absence says nothing, and an object left behind
   * would come back as a marker and have the upstream replace our tag). So a push pays one Redis
   * round trip and no storage call in the usual case, and one storage delete per tag push while a
   * Redis is without its markers. This path never trusts the in-process flag cache.
   */
  private async disown(name: string, tag: string): Promise<void> {
    let [origin, indexed] = await Promise.all([this.redis.get(this.originKey(name, tag)), this.originsIndexed(0)]);
    if (origin === null && !indexed) {
      // A Redis without its markers (a new platform, or one that lost them): rebuild them once (a
      // listing of upstream-origins/, empty where nothing was pulled through) rather than paying a
      // storage delete on every push until a reindex runs.
      try {
        await this.reindexOrigins();
        origin = await this.redis.get(this.originKey(name, tag));
        indexed = true;
      } catch (e) {
        this.logger.warn(`cannot rebuild upstream origins from storage: ${(e as Error).message}`);
      }
    }
    if (origin === null && indexed) return;
    await this.storage.delete(UpstreamLayout.origin(name, tag));
    await this.redis.del(this.originKey(name, tag));
  }

  /**
   * Rebuild the origin markers from storage, then set the origins-indexed flag; returns how many.
   * A local push removes the object, then the marker: a marker set here after that push's DEL is
   * caught by the second listing (its object is gone by then) and removed again.
   */
  reindexOrigins(): Promise<number> {
    return this.originFlights.run('origins', async () => {
      const listed = async () => {
        const found = new Set<string>();
        for await (const f of this.storage.list(UpstreamLayout.originsRoot)) if (parseOriginKey(f.path)) found.add(f.path);
        return found;
      };
      const first = await listed();
      for (const key of first) {
        const o = parseOriginKey(key)!;
        await this.redis.set(this.originKey(o.name, o.tag), '1');
      }
      const second = await listed();
      for (const key of first) {
        if (second.has(key)) continue;
        const o = parseOriginKey(key)!;
        await this.redis.del(this.originKey(o.name, o.tag));
      }
      await this.redis.set(this.originsIndexedKey(), String(Date.now()));
      this.originsIndexedSeen = Date.now();
      return first.size;
    });
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

  async getManifest(ref: LocalReference): Promise<StoredManifest> {
    const name = ref.name;
    const reference = referenceOf(ref);
    const mapping = await this.mapping(name);
    if (!mapping) return this.inner.getManifest(ref);
    let local: StoredManifest | undefined;
    try {
      local = await this.inner.getManifest(ref);
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

  private async fetch(
    mapping: UpstreamMapping,
    name: string,
    reference: string,
    local: StoredManifest | undefined,
  ): Promise<StoredManifest> {
    const registry = this.clients.for(mapping.upstream);
    if (local) {
      const head = await registry.headManifest(mapping.remoteName, reference);
      if (head?.digest === local.digest) {
        await this.markFresh(name, reference);
        return local;
      }
    }
    const m = await registry.getManifest(mapping.remoteName, reference);
    // The claim goes to storage before the tag: a crash in between leaves a claim on a tag that is
    // not here (harmless: only tags that are here are revalidated), never an upstream tag that
    // looks like ours and is never revalidated again.
    if (isTag(reference)) {
      const origin: UpstreamOrigin = { upstream: mapping.upstream.id, remoteName: mapping.remoteName, at: new Date().toISOString() };
      await this.storage.putContent(UpstreamLayout.origin(name, reference), JSON.stringify(origin));
    }
    // pull-through = copy(remote, local), manifests only: an index's children and every blob are
    // fetched on their own first GET, so a pull never waits for more than it asked.
    const parsed = parseManifest(m.bytes, m.mediaType);
    if (isDigest(reference) && parsed.digest !== reference) {
      throw new RegistryError('DIGEST_INVALID', 'the upstream answered another manifest than the digest asked for', {
        expected: reference,
        actual: parsed.digest,
      });
    }
    const artifact: Artifact = parsed.isIndex
      ? { kind: 'index', index: indexFrom(m.bytes, [], m.mediaType) }
      : {
          kind: 'image',
          image: imageFromBlobs({
            rawManifest: m.bytes,
            mediaType: m.mediaType,
            openBlob: () => Promise.reject(new RegistryError('UNSUPPORTED', 'blobs come on their own GET')),
          }),
        };
    await copy(
      [{ artifact, targets: [isTag(reference) ? { repository: name, tag: reference } : { repository: name }] }],
      localManifestSink(this.inner),
      { manifestsOnly: true },
    );
    const r = { digest: parsed.digest, mediaType: parsed.mediaType };
    if (isTag(reference)) {
      await this.redis.set(this.originKey(name, reference), '1');
      await this.markFresh(name, reference);
    }
    return { digest: r.digest, mediaType: r.mediaType, size: m.bytes.length, bytes: m.bytes };
  }

  private async markFresh(name: string, tag: string): Promise<void> {
    if (this.options.manifestTtlSeconds > 0) await this.redis.set(this.freshKey(name, tag), '1', 'EX', this.options.manifestTtlSeconds);
  }

  async putManifest(
    ref: LocalReference,
    bytes: Buffer,
    contentType: string | undefined,
    options?: PutManifestOptions,
  ): Promise<PutManifestResult> {
    const { name } = ref;
    const reference = referenceOf(ref);
    const r = await this.inner.putManifest(ref, bytes, contentType, options);
    // A push makes the tag ours: the upstream's tag of that name no longer replaces it.
    if (isTag(reference)) {
      await this.disown(name, reference);
      this.tagWritten(name, reference, r.digest);
    }
    return r;
  }

  async tagManifest(name: string, tag: string, digest: Digest): Promise<void> {
    await this.inner.tagManifest(name, tag, digest);
    await this.disown(name, tag);
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
  imageIds(prefix: string, n: number, after?: string) {
    return this.inner.imageIds(prefix, n, after);
  }
  imageHolders(id: Digest) {
    return this.inner.imageHolders(id);
  }
  /** The inner indexes, then the origin markers (which tags are the upstream's) from storage. */
  async reindex() {
    const r = await this.inner.reindex();
    await this.reindexOrigins();
    return r;
  }
}
