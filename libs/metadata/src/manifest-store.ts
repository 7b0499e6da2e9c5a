// Manifests, tags, referrers and the catalog. Storage holds the truth (manifest bytes as blobs,
// revision and tag link objects as distribution lays them out); Redis holds the indexes every read
// uses, so a pull never touches storage for metadata.
//
// Write order on PUT: manifest bytes -> revision link -> (Redis manifest + revision) -> tag link ->
// tag history -> Redis tag. A crash at any point leaves a tag pointing at a complete manifest or at
// its previous one, never at something missing.
import type Redis from 'ioredis';
import { RegistryError, digestOf, isDigest, parseDigest, parseManifest, isValidTag, type Digest } from '@stevedore/oci';
import { ByteLru, RedisKeys, StorageLayout, parseLinkKey } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService, Page, PutManifestOptions, PutManifestResult, ReferrerDescriptor, StoredManifest, TagHistoryEntry } from './metadata-service';

export interface ManifestStoreOptions {
  maxManifestBytes: number;
}

export class ManifestStore implements MetadataService {
  private readonly cache = new ByteLru(32 * 1024 * 1024, 4 * 1024 * 1024 + 256);

  constructor(
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly blobs: BlobService,
    private readonly options: ManifestStoreOptions,
  ) {}

  private manifestKey(d: string): string {
    return this.keys.key('manifest', d);
  }
  private revisionsKey(name: string): string {
    return this.keys.repo(name, 'revisions');
  }
  private tagsKey(name: string): string {
    return this.keys.repo(name, 'tags');
  }
  private tagNamesKey(name: string): string {
    return this.keys.repo(name, 'tagnames');
  }
  private referrersKey(name: string, subject: string): string {
    return this.keys.repo(name, 'referrers', subject);
  }
  private catalogKey(): string {
    return this.keys.key('catalog');
  }

  private async resolve(name: string, reference: string): Promise<Digest> {
    if (isDigest(reference)) {
      const linked = await this.redis.sismember(this.revisionsKey(name), reference);
      if (!linked) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { name, reference });
      return reference;
    }
    if (reference.includes(':')) parseDigest(reference);
    const d = await this.redis.hget(this.tagsKey(name), reference);
    if (!d) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { name, tag: reference });
    return d as Digest;
  }

  async getManifest(name: string, reference: string): Promise<StoredManifest> {
    const digest = await this.resolve(name, reference);
    // Manifest bytes are immutable per digest: after the repository check above, a cached copy
    // saves the second Redis round trip on every pull.
    const cached = this.cache.get(digest);
    if (cached) return this.decodeCached(digest, cached);
    const raw = await this.redis.hmgetBuffer(this.manifestKey(digest), 'mediaType', 'bytes');
    if (!raw[0] || !raw[1]) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { name, reference });
    this.cache.set(digest, Buffer.concat([Buffer.from(raw[0].toString() + '\n'), raw[1]]));
    return { digest, mediaType: raw[0].toString(), size: raw[1].length, bytes: raw[1] };
  }

  private decodeCached(digest: Digest, entry: Buffer): StoredManifest {
    const nl = entry.indexOf(0x0a);
    const bytes = entry.subarray(nl + 1);
    return { digest, mediaType: entry.subarray(0, nl).toString(), size: bytes.length, bytes };
  }

  async putManifest(name: string, reference: string, bytes: Buffer, contentType: string | undefined, options: PutManifestOptions = {}): Promise<PutManifestResult> {
    if (bytes.length > this.options.maxManifestBytes) {
      throw new RegistryError('MANIFEST_INVALID', `manifest exceeds ${this.options.maxManifestBytes} bytes`, { size: bytes.length }, 413);
    }
    const byDigest = isDigest(reference) || reference.includes(':');
    if (!byDigest) isValidTag(reference);
    const parsed = parseManifest(bytes, contentType);
    const digest = byDigest ? parseDigest(reference) : parsed.digest;
    if (byDigest && digestOf(bytes, digest.startsWith('sha512:') ? 'sha512' : 'sha256') !== digest) {
      throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match its content', { expected: digest });
    }
    if (!options.allowMissingReferences) await this.checkReferences(name, parsed.references);

    // 1. bytes (content-addressed, as a blob) 2. revision link 3. index
    const dataKey = StorageLayout.blobData(digest);
    if (!(await this.blobs.exists(digest))) await this.storage.putContent(dataKey, bytes);
    await this.storage.putContent(StorageLayout.revisionLink(name, digest), digest);
    await this.indexManifest(name, digest, parsed.mediaType, bytes, parsed.subject, parsed.artifactType, parsed.annotations);
    if (!byDigest) await this.tagManifest(name, reference, digest);
    return { digest, mediaType: parsed.mediaType, subject: parsed.subject?.digest as Digest | undefined };
  }

  private async checkReferences(name: string, refs: Array<{ digest: string; mediaType: string }>): Promise<void> {
    const missing: string[] = [];
    await Promise.all(
      refs.map(async (r) => {
        const d = r.digest as Digest;
        const isManifest = await this.redis.sismember(this.revisionsKey(name), d);
        if (isManifest) return;
        if (!(await this.blobs.stat(name, d))) missing.push(d);
      }),
    );
    if (missing.length) {
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest references a manifest or blob unknown to registry', { missing: missing.sort() });
    }
  }

  private async indexManifest(
    name: string,
    digest: Digest,
    mediaType: string,
    bytes: Buffer,
    subject?: { digest: string },
    artifactType?: string,
    annotations?: Record<string, string>,
  ): Promise<void> {
    const m = this.redis.multi();
    m.hset(this.manifestKey(digest), 'mediaType', mediaType, 'bytes', bytes);
    m.sadd(this.revisionsKey(name), digest);
    m.zadd(this.catalogKey(), 0, name);
    if (subject) {
      const desc: ReferrerDescriptor = { mediaType, digest, size: bytes.length };
      if (artifactType) desc.artifactType = artifactType;
      if (annotations && Object.keys(annotations).length) desc.annotations = annotations;
      m.hset(this.referrersKey(name, subject.digest), digest, JSON.stringify(desc));
    }
    await m.exec();
  }

  async tagManifest(name: string, tag: string, digest: Digest): Promise<void> {
    isValidTag(tag);
    if (!(await this.redis.sismember(this.revisionsKey(name), digest))) {
      throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { name, digest });
    }
    await this.storage.putContent(StorageLayout.tagIndexEntry(name, tag, digest), digest);
    await this.storage.putContent(StorageLayout.tagCurrent(name, tag), digest);
    await this.redis.multi().hset(this.tagsKey(name), tag, digest).zadd(this.tagNamesKey(name), 0, tag).rpush(this.keys.repo(name, 'taghistory', tag), digest).exec();
  }

  async deleteTag(name: string, tag: string): Promise<void> {
    const d = await this.redis.hget(this.tagsKey(name), tag);
    if (!d) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { name, tag });
    // Index first so readers stop seeing it, then the link (a crash in between is repaired by reindex).
    await this.redis.multi().hdel(this.tagsKey(name), tag).zrem(this.tagNamesKey(name), tag).exec();
    await this.storage.delete(StorageLayout.tagCurrent(name, tag));
  }

  async tagsOf(name: string, digest: Digest): Promise<string[]> {
    const all = await this.redis.hgetall(this.tagsKey(name));
    return Object.entries(all)
      .filter(([, d]) => d === digest)
      .map(([t]) => t)
      .sort();
  }

  async deleteManifest(name: string, digest: Digest): Promise<void> {
    if (!(await this.redis.sismember(this.revisionsKey(name), digest))) {
      throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { name, digest });
    }
    for (const tag of await this.tagsOf(name, digest)) await this.deleteTag(name, tag);
    const raw = await this.redis.hgetBuffer(this.manifestKey(digest), 'bytes');
    await this.redis.srem(this.revisionsKey(name), digest);
    if (raw) {
      try {
        const subject = parseManifest(raw, undefined).subject;
        if (subject) await this.redis.hdel(this.referrersKey(name, subject.digest), digest);
      } catch {
        // A manifest that no longer parses has no referrer entry to remove.
      }
    }
    await this.storage.delete(StorageLayout.revisionLink(name, digest));
  }

  async listTags(name: string, n?: number, last?: string): Promise<Page<string>> {
    const exists = await this.redis.zscore(this.catalogKey(), name);
    if (exists === null) throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name });
    return this.page(this.tagNamesKey(name), n, last);
  }

  async catalog(n?: number, last?: string): Promise<Page<string>> {
    return this.page(this.catalogKey(), n, last);
  }

  /** Lexically ordered page of a zset whose scores are all 0. */
  private async page(key: string, n?: number, last?: string): Promise<Page<string>> {
    const min = last ? `(${last}` : '-';
    if (n === 0) return { items: [] };
    const limit = n ?? 10_000;
    const items = await this.redis.zrangebylex(key, min, '+', 'LIMIT', 0, limit + 1);
    if (items.length > limit) {
      items.length = limit;
      return { items, next: items[items.length - 1] };
    }
    return { items };
  }

  async referrers(name: string, subject: Digest, artifactType?: string): Promise<ReferrerDescriptor[]> {
    const all = await this.redis.hvals(this.referrersKey(name, subject));
    const list = all.map((v) => JSON.parse(v) as ReferrerDescriptor).filter((d) => !artifactType || d.artifactType === artifactType);
    return list.sort((a, b) => a.digest.localeCompare(b.digest));
  }

  async tagHistory(name: string, tag: string): Promise<TagHistoryEntry[]> {
    const list = await this.redis.lrange(this.keys.repo(name, 'taghistory', tag), 0, -1);
    return list.map((d) => ({ digest: d as Digest }));
  }

  async reindex(): Promise<{ repositories: number; manifests: number; tags: number; blobs: number }> {
    const blobs = await this.blobs.reindex();
    const repos = new Set<string>();
    let manifests = 0;
    let tags = 0;
    const tagLinks: Array<{ name: string; tag: string; key: string }> = [];
    for await (const f of this.storage.list(StorageLayout.repositoriesRoot)) {
      const link = parseLinkKey(f.path);
      if (!link) continue;
      if (link.kind === 'revision') {
        const digest = link.digest as Digest;
        const bytes = await this.storage.getContent(StorageLayout.blobData(digest)).catch(() => undefined);
        if (!bytes) continue;
        try {
          const parsed = parseManifest(bytes, undefined);
          await this.indexManifest(link.name, digest, parsed.mediaType, bytes, parsed.subject, parsed.artifactType, parsed.annotations);
          repos.add(link.name);
          manifests++;
        } catch {
          // Not a manifest we can read: leave it out of the index rather than serve it.
        }
      } else if (link.kind === 'tag') {
        tagLinks.push({ name: link.name, tag: link.tag, key: f.path });
      }
    }
    // Tags last: only onto manifests that made it into the index.
    for (const t of tagLinks) {
      const digest = (await this.storage.getContent(t.key)).toString().trim();
      if (!(await this.redis.sismember(this.revisionsKey(t.name), digest))) continue;
      await this.redis.multi().hset(this.tagsKey(t.name), t.tag, digest).zadd(this.tagNamesKey(t.name), 0, t.tag).exec();
      tags++;
    }
    return { repositories: repos.size, manifests, tags, blobs };
  }
}
