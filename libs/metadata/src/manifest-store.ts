// Manifests, tags, referrers and the catalog. Storage holds the truth (manifest bytes as blobs,
// revision and tag link objects as distribution lays them out); Redis holds the indexes every read
// uses, so a pull never touches storage for metadata.
//
// Write order on PUT: manifest bytes -> revision link -> (Redis manifest + revision) -> tag history
// link (index entry) -> tag link -> Redis tag, tag time and tag history (one MULTI). A crash at any
// point leaves a tag pointing at a complete manifest or at its previous one, never at something
// missing. Tagging by itself (tagManifest) is the last three steps; a PUT with a tag goes through it.
//
// Tag times and history are not written to storage as contents: both links are rewritten on every
// tagging, so their modification times are when the tag was last set and when it last named each
// digest. Redis keeps them (tagtimes, taghist) so reads never stat storage; reindex rebuilds them
// from the links' times, equal to the ones Redis had to within the storage's time resolution.
import { metadataKeys, metadataPaths, parseMetadataLink } from './metadata-layout';
import type Redis from 'ioredis';
import {
  RegistryError,
  digestOf,
  isDigest,
  parseDigest,
  parseManifest,
  isValidTag,
  referenceOf,
  type Digest,
  type LocalReference,
} from '@stevedore/oci';
import { ByteLru, RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { DigestGuard, luaMayGo, type BlobGcService, type BlobQuota, type BlobService } from '@stevedore/blobs';
import type {
  ManifestDataRecord,
  ManifestGcService,
  ManifestRecord,
  MetadataService,
  Page,
  PutManifestOptions,
  PutManifestResult,
  ReferrerDescriptor,
  StoredManifest,
  TagHistoryEntry,
} from './metadata-service';

export interface ManifestStoreOptions {
  maxManifestBytes: number;
  /** Namespace quotas (libs/gc), checked before a manifest is stored. */
  quota?: BlobQuota;
}

// GC's removal of untagged manifests from one repository, atomic against tagging and pushes (which
// run as DigestGuard writers). KEYS: revisions, tags, then per candidate touched, writing, referrers.
// ARGV: cutoff ms, then per candidate digest and '1' when it has a referrers entry to drop.
const DELETE_UNTAGGED = `
local tagged = {}
for _, d in ipairs(redis.call('HVALS', KEYS[2])) do tagged[d] = true end
local removed = {}
local n = (#KEYS - 2) / 3
for i = 0, n - 1 do
  local d = ARGV[2 + i * 2]
  local touched, writing, referrers = KEYS[3 + i * 3], KEYS[4 + i * 3], KEYS[5 + i * 3]
  if not tagged[d] and redis.call('EXISTS', writing) == 0 and redis.call('SISMEMBER', KEYS[1], d) == 1 then
    local t = redis.call('GET', touched)
    if not t then
      local now = redis.call('TIME')
      redis.call('SET', touched, now[1] * 1000 + math.floor(now[2] / 1000))
    elseif tonumber(t) < tonumber(ARGV[1]) then
      redis.call('SREM', KEYS[1], d)
      if ARGV[3 + i * 2] == '1' then redis.call('HDEL', referrers, d) end
      table.insert(removed, d)
    end
  end
end
return removed`;

// GC's purge of one manifest record no repository holds. KEYS: manifest, touched, writing, sweeping.
// ARGV: cutoff ms. Returns -1 busy, -2 first seen, -3 recent, else the size purged. The touched stamp
// stays: layer storage's dropContent checks it again before the bytes go (they are its keyspace).
const PURGE = `${luaMayGo({ touched: 2, writing: 3, sweeping: 4 })}
local size = redis.call('HSTRLEN', KEYS[1], 'bytes')
redis.call('DEL', KEYS[1])
return size`;

/** ZRANGE ... WITHSCORES of a tag history ZSET (digest, ms, digest, ms, ...), oldest first. */
export function historyEntries(withScores: string[]): TagHistoryEntry[] {
  const out: TagHistoryEntry[] = [];
  for (let i = 0; i + 1 < withScores.length; i += 2) out.push({ digest: withScores[i] as Digest, taggedAt: Number(withScores[i + 1]) });
  return out;
}

export class ManifestStore implements MetadataService, ManifestGcService {
  private readonly cache = new ByteLru(32 * 1024 * 1024, 4 * 1024 * 1024 + 256);
  private readonly guard: DigestGuard;

  constructor(
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly blobs: BlobService,
    /** Layer storage's side of GC: manifest bytes live in its keyspace. */
    private readonly blobGc: Pick<BlobGcService, 'dropContent'>,
    private readonly options: ManifestStoreOptions,
  ) {
    this.guard = new DigestGuard(redis, keys);
    this.k = metadataKeys(keys);
  }

  private readonly k: ReturnType<typeof metadataKeys>;
  private manifestKey(d: string): string {
    return this.k.manifest(d);
  }
  private revisionsKey(name: string): string {
    return this.k.revisions(name);
  }
  private tagsKey(name: string): string {
    return this.k.tags(name);
  }
  private tagNamesKey(name: string): string {
    return this.k.tagNames(name);
  }
  private tagTimesKey(name: string): string {
    return this.k.tagTimes(name);
  }
  private tagHistoryKey(name: string, tag: string): string {
    return this.k.tagHistory(name, tag);
  }
  private referrersKey(name: string, subject: string): string {
    return this.k.referrers(name, subject);
  }
  private catalogKey(): string {
    return this.k.catalog();
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

  async getManifest(ref: LocalReference): Promise<StoredManifest> {
    const name = ref.name;
    const reference = referenceOf(ref);
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

  async putManifest(
    ref: LocalReference,
    bytes: Buffer,
    contentType: string | undefined,
    options: PutManifestOptions = {},
  ): Promise<PutManifestResult> {
    const name = ref.name;
    if (bytes.length > this.options.maxManifestBytes) {
      throw new RegistryError('MANIFEST_INVALID', `manifest exceeds ${this.options.maxManifestBytes} bytes`, { size: bytes.length }, 413);
    }
    const byDigest = ref.digest !== undefined;
    if (!byDigest) isValidTag(referenceOf(ref));
    const parsed = parseManifest(bytes, contentType);
    const digest = ref.digest ?? parsed.digest;
    if (byDigest && digestOf(bytes, digest.startsWith('sha512:') ? 'sha512' : 'sha256') !== digest) {
      throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match its content', { expected: digest });
    }
    // The manifest and everything it references are held from GC from the check to the tag.
    const references = parsed.references.map((r) => r.digest as Digest);
    return this.guard.hold([digest, ...references], async () => {
      if (!options.allowMissingReferences) await this.checkReferences(name, parsed.references);
      await this.options.quota?.reserve(name, { digest, size: bytes.length });

      // 1. bytes (layer storage keeps them content-addressed, as distribution does) 2. revision link 3. index
      await this.blobs.storeContent(digest, bytes);
      await this.storage.putContent(metadataPaths.revisionLink(name, digest), digest);
      await this.indexManifest(name, digest, parsed.mediaType, bytes, parsed.subject, parsed.artifactType, parsed.annotations);
      if (!byDigest) await this.tagManifest(name, ref.tag!, digest);
      return { digest, mediaType: parsed.mediaType, subject: parsed.subject?.digest as Digest | undefined };
    });
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
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest references a manifest or blob unknown to registry', {
        missing: missing.sort(),
      });
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
    // A writer of the digest: GC cannot drop the revision between the check and the tag.
    await this.guard.hold([digest], async () => {
      if (!(await this.redis.sismember(this.revisionsKey(name), digest))) {
        throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { name, digest });
      }
      // Both links are (re)written on every tagging: their times are the durable tag time and
      // history time (see the top of the file); no other storage write on this path.
      await this.storage.putContent(metadataPaths.tagIndexEntry(name, tag, digest), digest);
      await this.storage.putContent(metadataPaths.tagCurrent(name, tag), digest);
      const now = Date.now();
      await this.redis
        .multi()
        .hset(this.tagsKey(name), tag, digest)
        .zadd(this.tagNamesKey(name), 0, tag)
        .hset(this.tagTimesKey(name), tag, now)
        .zadd(this.tagHistoryKey(name, tag), now, digest)
        .exec();
    });
  }

  // Tag history outlives the tag and the manifests it named: deleteTag removes only the current
  // link and deleteManifest (and GC's deleteUntagged) only the revision link, so storage keeps a
  // tag's index entries, and Redis keeps its history ZSET to match (reindex rebuilds it from those
  // entries, deleted tags and manifests included). A history entry may name a manifest that is gone.
  async deleteTag(name: string, tag: string): Promise<void> {
    const d = await this.redis.hget(this.tagsKey(name), tag);
    if (!d) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { name, tag });
    // Index first so readers stop seeing it, then the link (a crash in between is repaired by reindex).
    await this.redis.multi().hdel(this.tagsKey(name), tag).zrem(this.tagNamesKey(name), tag).hdel(this.tagTimesKey(name), tag).exec();
    await this.storage.delete(metadataPaths.tagCurrent(name, tag));
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
    await this.storage.delete(metadataPaths.revisionLink(name, digest));
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
    return historyEntries(await this.redis.zrange(this.tagHistoryKey(name, tag), '0', '-1', 'WITHSCORES'));
  }

  async reindex(): Promise<{ repositories: number; manifests: number; tags: number; blobs: number }> {
    const blobs = await this.blobs.reindex();
    const repos = new Set<string>();
    let manifests = 0;
    let tags = 0;
    const tagLinks: Array<{ name: string; tag: string; key: string; at: number }> = [];
    const history: Array<{ name: string; tag: string; digest: string; at: number }> = [];
    for await (const f of this.storage.list(metadataPaths.repositoriesRoot)) {
      const link = parseMetadataLink(f.path);
      if (!link) continue;
      if (link.kind === 'revision') {
        const digest = link.digest as Digest;
        const bytes = await this.blobs.readContent(digest);
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
        tagLinks.push({ name: link.name, tag: link.tag, key: f.path, at: f.modTime.getTime() });
      } else if (link.kind === 'tagIndex') {
        history.push({ name: link.name, tag: link.tag, digest: link.digest, at: f.modTime.getTime() });
      }
    }
    // History as storage keeps it (also of deleted tags and manifests, see deleteTag). GT: a
    // reindex over a live Redis never moves an entry back to before a tagging Redis saw since.
    for (const h of history) await this.redis.zadd(this.tagHistoryKey(h.name, h.tag), 'GT', h.at, h.digest);
    // Tags last: only onto manifests that made it into the index.
    for (const t of tagLinks) {
      const digest = (await this.storage.getContent(t.key)).toString().trim();
      if (!(await this.redis.sismember(this.revisionsKey(t.name), digest))) continue;
      await this.redis
        .multi()
        .hset(this.tagsKey(t.name), t.tag, digest)
        .zadd(this.tagNamesKey(t.name), 0, t.tag)
        .hset(this.tagTimesKey(t.name), t.tag, t.at)
        .exec();
      tags++;
    }
    return { repositories: repos.size, manifests, tags, blobs };
  }

  async listManifests(name: string): Promise<ManifestRecord[]> {
    const [digests, tags, times] = await Promise.all([
      this.redis.smembers(this.revisionsKey(name)),
      this.redis.hgetall(this.tagsKey(name)),
      this.redis.hgetall(this.tagTimesKey(name)),
    ]);
    const tagsOf = new Map<string, Array<{ tag: string; taggedAt: number }>>();
    for (const [tag, d] of Object.entries(tags)) {
      // Tags set before tag times were recorded: the tag link's modification time.
      const taggedAt = times[tag]
        ? Number(times[tag])
        : ((await this.storage.stat(metadataPaths.tagCurrent(name, tag)))?.modTime.getTime() ?? 0);
      tagsOf.set(d, [...(tagsOf.get(d) ?? []), { tag, taggedAt }]);
    }
    const records = await Promise.all(
      digests.map(async (d): Promise<ManifestRecord | undefined> => {
        const [[mediaType, bytes], touched] = await Promise.all([
          this.redis.hmgetBuffer(this.manifestKey(d), 'mediaType', 'bytes'),
          this.redis.get(this.guard.touchedKey(d)),
        ]);
        if (!mediaType || !bytes) return undefined;
        const record: ManifestRecord = {
          digest: d as Digest,
          mediaType: mediaType.toString(),
          size: bytes.length,
          references: [],
          tags: tagsOf.get(d) ?? [],
        };
        if (touched !== null) record.touched = Number(touched);
        try {
          const parsed = parseManifest(bytes, record.mediaType);
          record.references = parsed.references.map((r) => r.digest as Digest);
          if (parsed.subject) record.subject = parsed.subject.digest as Digest;
        } catch {
          // Unparseable: it references nothing GC could follow.
        }
        return record;
      }),
    );
    return records.filter((r): r is ManifestRecord => r !== undefined);
  }

  async deleteUntagged(name: string, digests: Digest[], options: { olderThan: number }): Promise<Digest[]> {
    if (!digests.length) return [];
    const keys = [this.revisionsKey(name), this.tagsKey(name)];
    const args: string[] = [String(options.olderThan)];
    for (const d of digests) {
      const raw = await this.redis.hgetBuffer(this.manifestKey(d), 'bytes');
      let subject: string | undefined;
      try {
        subject = raw ? parseManifest(raw, undefined).subject?.digest : undefined;
      } catch {
        subject = undefined;
      }
      keys.push(this.guard.touchedKey(d), this.guard.writingKey(d), subject ? this.referrersKey(name, subject) : this.revisionsKey(name));
      args.push(d, subject ? '1' : '0');
    }
    const removed = (await this.redis.eval(DELETE_UNTAGGED, keys.length, ...keys, ...args)) as Digest[];
    if (removed.length) await this.storage.deleteMany(removed.map((d) => metadataPaths.revisionLink(name, d)));
    return removed;
  }

  async listManifestData(cursor = '0'): Promise<{ items: ManifestDataRecord[]; cursor?: string }> {
    const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.manifestKey('*'), 'COUNT', 1000);
    const prefix = this.manifestKey('');
    const items = await Promise.all(
      keys.map(async (k): Promise<ManifestDataRecord> => {
        const digest = k.slice(prefix.length) as Digest;
        const [size, touched] = await Promise.all([this.redis.hstrlen(k, 'bytes'), this.redis.get(this.guard.touchedKey(digest))]);
        return touched === null ? { digest, size } : { digest, size, touched: Number(touched) };
      }),
    );
    return next === '0' ? { items } : { items, cursor: next };
  }

  async purgeManifestData(digests: Digest[], options: { olderThan: number }): Promise<ManifestDataRecord[]> {
    const outcomes = await Promise.all(
      digests.map(
        (d) =>
          this.redis.eval(
            PURGE,
            4,
            this.manifestKey(d),
            this.guard.touchedKey(d),
            this.guard.writingKey(d),
            this.guard.sweepingKey(d),
            options.olderThan,
          ) as Promise<number>,
      ),
    );
    const purged: ManifestDataRecord[] = [];
    digests.forEach((d, i) => {
      if (outcomes[i] < 0) return;
      purged.push({ digest: d, size: outcomes[i] });
      this.cache.delete(d);
    });
    // The bytes are layer storage's; it keeps them when they are also a blob or a writer came back.
    if (purged.length)
      await this.blobGc.dropContent(
        purged.map((p) => p.digest),
        options,
      );
    return purged;
  }
}
