// Tags: the current tag -> digest of each repository, the tag names in lexical order (for paging),
// when each tag was last set, and each tag's history; in storage, the tag's current link and one
// index entry per digest it has named (metadata-layout.ts).
//
// Tag times and history are not written to storage as contents: both links are rewritten on every
// tagging, so their modification times are when the tag was last set and when it last named each
// digest. Redis keeps them (tagtimes, taghist) so reads never stat storage; reindex rebuilds them
// from the links' times, equal to the ones Redis had to within the storage's time resolution.
//
// Tag history outlives the tag and the manifests it named: remove deletes only the current link
// (and deleting a manifest only its revision link), so storage keeps a tag's index entries, and
// Redis keeps its history ZSET to match (reindex rebuilds it from those entries, deleted tags and
// manifests included). A history entry may name a manifest that is gone.
import type Redis from 'ioredis';
import { RegistryError, isDigest, type Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { lexPage } from './lex-page';
import { metadataKeys, metadataPaths, type MetadataKeys } from './metadata-layout';
import type { Page, TagHistoryEntry } from './metadata-service';

// Read repair's undo. KEYS: tags, tag names, tag times (one repository: one hash slot). ARGV: tag, digest.
const UNRESTORE = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1`;

// The consistency pass's correction of a tag Redis has pointing elsewhere than storage: only while
// Redis still names the digest it saw, so a tagging since then stays. KEYS: tags, tag times (one
// repository: one hash slot). ARGV: tag, digest seen, digest stored, the link's time.
const RETARGET = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
return 1`;

/** ZRANGE ... WITHSCORES of a tag history ZSET (digest, ms, digest, ms, ...), oldest first. */
function historyEntries(withScores: string[]): TagHistoryEntry[] {
  const out: TagHistoryEntry[] = [];
  for (let i = 0; i + 1 < withScores.length; i += 2) out.push({ digest: withScores[i] as Digest, taggedAt: Number(withScores[i + 1]) });
  return out;
}

export class TagRepository {
  private readonly k: MetadataKeys;

  constructor(
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    keys: RedisKeys,
  ) {
    this.k = metadataKeys(keys);
  }

  /** The digest `tag` names in `name`, if it is set. */
  async current(name: string, tag: string): Promise<Digest | undefined> {
    return ((await this.redis.hget(this.k.tags(name), tag)) ?? undefined) as Digest | undefined;
  }

  /**
   * Point `tag` at `digest` (the caller has checked the repository holds it, and holds the digest
   * from GC). The links first, then Redis in one MULTI: a crash in between leaves storage ahead of
   * the index, which reindex repairs.
   */
  async set(name: string, tag: string, digest: Digest): Promise<void> {
    // Both links are (re)written on every tagging: their times are the durable tag time and
    // history time (see the top of the file); no other storage write on this path.
    // Side by side: both fsyncs ride one journal commit. A crash between them leaves the tag where it
    // was or moved without its history entry, never pointing at a manifest that is not durable (the
    // caller wrote that first).
    await Promise.all([
      this.storage.putContent(metadataPaths.tagIndexEntry(name, tag, digest), digest),
      this.storage.putContent(metadataPaths.tagCurrent(name, tag), digest),
    ]);
    const now = Date.now();
    // The repository index's last push rides in the same round trip, outside the MULTI (its key is
    // not in the repository's hash slot).
    await Promise.all([
      this.redis
        .multi()
        .hset(this.k.tags(name), tag, digest)
        .zadd(this.k.tagNames(name), 0, tag)
        .hset(this.k.tagTimes(name), tag, now)
        .zadd(this.k.tagHistory(name, tag), now, digest)
        .exec(),
      this.redis.zadd(this.k.reposPushed(), 'GT', now, name),
    ]);
  }

  /** Remove `tag` (MANIFEST_UNKNOWN when it is not set); its history stays. */
  async remove(name: string, tag: string): Promise<void> {
    const d = await this.redis.hget(this.k.tags(name), tag);
    if (!d) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { name, tag });
    // Index first so readers stop seeing it, then the link (a crash in between is repaired by reindex).
    await this.redis.multi().hdel(this.k.tags(name), tag).zrem(this.k.tagNames(name), tag).hdel(this.k.tagTimes(name), tag).exec();
    await this.storage.delete(metadataPaths.tagCurrent(name, tag));
  }

  /** The tags naming `digest`, sorted. */
  async tagsOf(name: string, digest: Digest): Promise<string[]> {
    const all = await this.redis.hgetall(this.k.tags(name));
    return Object.entries(all)
      .filter(([, d]) => d === digest)
      .map(([t]) => t)
      .sort();
  }

  page(name: string, n?: number, last?: string): Promise<Page<string>> {
    return lexPage(this.redis, this.k.tagNames(name), n, last);
  }

  /** The digests `tag` has named, oldest first. */
  async history(name: string, tag: string): Promise<TagHistoryEntry[]> {
    return historyEntries(await this.redis.zrange(this.k.tagHistory(name, tag), '0', '-1', 'WITHSCORES'));
  }

  /** Every tag of `name` by the digest it names, with when it was set (ms). */
  async taggings(name: string): Promise<Map<Digest, Array<{ tag: string; taggedAt: number }>>> {
    const [tags, times] = await Promise.all([this.redis.hgetall(this.k.tags(name)), this.redis.hgetall(this.k.tagTimes(name))]);
    const byDigest = new Map<Digest, Array<{ tag: string; taggedAt: number }>>();
    for (const [tag, d] of Object.entries(tags)) {
      // Tags set before tag times were recorded: the tag link's modification time.
      const taggedAt = times[tag]
        ? Number(times[tag])
        : ((await this.storage.stat(metadataPaths.tagCurrent(name, tag)))?.modTime.getTime() ?? 0);
      byDigest.set(d as Digest, [...(byDigest.get(d as Digest) ?? []), { tag, taggedAt }]);
    }
    return byDigest;
  }

  /** For reindex: the digest a tag's current link names. */
  async readCurrentLink(name: string, tag: string): Promise<Digest> {
    return (await this.storage.getContent(metadataPaths.tagCurrent(name, tag))).toString().trim() as Digest;
  }

  /**
   * For read repair: the digest the tag's current link names and when it was written, or undefined
   * when there is no link (or it holds no digest).
   */
  async storedCurrent(name: string, tag: string): Promise<{ digest: Digest; at: number } | undefined> {
    const [digest, info] = await Promise.all([
      this.readCurrentLink(name, tag).catch(() => undefined),
      this.storage.stat(metadataPaths.tagCurrent(name, tag)),
    ]);
    if (!digest || !info || !isDigest(digest)) return undefined;
    return { digest, at: info.modTime.getTime() };
  }

  /**
   * For read repair: undo a restore that raced a removal (the link went after the repair read it),
   * only while Redis still names that digest, so a tagging since then stays.
   */
  async unrestore(name: string, tag: string, digest: Digest): Promise<boolean> {
    return (await this.redis.eval(UNRESTORE, 3, this.k.tags(name), this.k.tagNames(name), this.k.tagTimes(name), tag, digest)) === 1;
  }

  /** Every tag of `name` in Redis with the digest it names. */
  async indexed(name: string): Promise<Map<string, Digest>> {
    return new Map(Object.entries(await this.redis.hgetall(this.k.tags(name))) as Array<[string, Digest]>);
  }

  /** For the consistency pass: point `tag` from `from` to `to` (set at `at`) only while Redis still names `from`. */
  async retarget(name: string, tag: string, from: Digest, to: Digest, at: number): Promise<boolean> {
    return (await this.redis.eval(RETARGET, 2, this.k.tags(name), this.k.tagTimes(name), tag, from, to, String(at))) === 1;
  }

  /**
   * For reindex: a history entry as storage keeps it (also of deleted tags and manifests). GT: a
   * reindex over a live Redis never moves an entry back to before a tagging Redis saw since.
   */
  async restoreHistory(name: string, tag: string, digest: Digest, at: number): Promise<void> {
    await this.redis.zadd(this.k.tagHistory(name, tag), 'GT', at, digest);
  }

  /** For reindex: a tag as its current link says, set at the link's time. */
  async restore(name: string, tag: string, digest: Digest, at: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.k.tags(name), tag, digest)
      .zadd(this.k.tagNames(name), 0, tag)
      .hset(this.k.tagTimes(name), tag, at)
      .exec();
    await this.redis.zadd(this.k.reposPushed(), 'GT', at, name);
  }
}
