// Read repair: a tag or manifest that Redis has lost but storage still holds is found in storage,
// served, and written back to the index. Storage is the truth (every write stores bytes, then
// links, then Redis), so this is only Redis catching up: after a failover that dropped acknowledged
// writes (Redis replication is asynchronous), or a Redis that was flushed or replaced. A pull then
// never answers 404 for something safe in storage.
//
// Each repair runs as a DigestGuard writer of the manifest, as a push does, so it stamps the digest
// as referenced and a GC run deciding at the same moment keeps its bytes. A repair that races a
// removal (the index goes first there, then the link) checks the link again after writing back and
// takes the write-back back if the link has gone meanwhile. Misses are remembered for a moment
// (an LRU of up to 10,000 keys with a time to live), so 404s for names that exist nowhere stay one
// Redis read each.
import { digestAlgorithm, digestOf, isDigest, parseManifest, type Digest } from '@stevedore/oci';
import { LRUCache } from 'lru-cache';
import type { DigestGuard } from '@stevedore/blobs';
import type { ManifestRepository } from './manifest-repository';
import type { TagRepository } from './tag-repository';

export type RepairKind = 'tag' | 'revision' | 'record';

export interface ReadRepairOptions {
  /** How long a miss in storage is remembered (ms). */
  missTtlMs?: number;
  /** Called once per entry written back (a metric). */
  onRepair?: (kind: RepairKind) => void;
}

export class ManifestReadRepair {
  private readonly misses: LRUCache<string, true>;

  constructor(
    private readonly manifests: ManifestRepository,
    private readonly tags: TagRepository,
    private readonly guard: DigestGuard,
    /** Manifest bytes by digest (layer storage keeps them). */
    private readonly readContent: (digest: Digest) => Promise<Buffer | undefined>,
    private readonly options: ReadRepairOptions = {},
  ) {
    this.misses = new LRUCache<string, true>({ max: 10_000, ttl: options.missTtlMs ?? 2000 });
  }

  /** The digest `tag` names in storage, indexed again; undefined when storage has no such tag (or its manifest). */
  async tag(name: string, tag: string): Promise<Digest | undefined> {
    const key = `tag\0${name}\0${tag}`;
    if (this.misses.has(key)) return undefined;
    const stored = await this.tags.storedCurrent(name, tag);
    if (!stored || !(await this.revision(name, stored.digest))) {
      this.misses.set(key, true);
      return undefined;
    }
    const restored = await this.guard.hold([stored.digest], async () => {
      await this.tags.restore(name, tag, stored.digest, stored.at);
      if ((await this.tags.storedCurrent(name, tag))?.digest === stored.digest) return true;
      // Removed or moved while we wrote back: Redis must not keep what storage no longer says.
      await this.tags.unrestore(name, tag, stored.digest);
      return false;
    });
    if (!restored) return undefined;
    this.options.onRepair?.('tag');
    return stored.digest;
  }

  /** Whether `name` holds `digest` in storage; if so its revision (and record) are indexed again. */
  async revision(name: string, digest: Digest): Promise<boolean> {
    if (await this.manifests.isLinked(name, digest)) return true;
    const key = `rev\0${name}\0${digest}`;
    if (!isDigest(digest) || this.misses.has(key)) return false;
    const restored =
      (await this.manifests.hasStoredLink(name, digest)) &&
      (await this.guard
        .hold([digest], async () => {
          const bytes = await this.verifiedBytes(digest);
          if (!bytes) return false;
          await this.manifests.index(name, digest, parseManifest(bytes, undefined), bytes);
          if (await this.manifests.hasStoredLink(name, digest)) return true;
          // Unlinked (GC or a delete) while we wrote back.
          await this.manifests.remove(name, digest);
          return false;
        })
        .catch(() => false));
    if (!restored) {
      this.misses.set(key, true);
      return false;
    }
    this.options.onRepair?.('revision');
    return true;
  }

  /** The record of a manifest a repository holds (the caller checked), from its stored bytes. */
  async record(digest: Digest): Promise<{ mediaType: string; bytes: Buffer } | undefined> {
    const key = `rec\0${digest}`;
    if (this.misses.has(key)) return undefined;
    const record = await this.guard
      .hold([digest], async () => {
        const bytes = await this.verifiedBytes(digest);
        if (!bytes) return undefined;
        const { mediaType } = parseManifest(bytes, undefined);
        await this.manifests.restoreRecord(digest, mediaType, bytes);
        return { mediaType, bytes };
      })
      .catch(() => undefined);
    if (!record) {
      this.misses.set(key, true);
      return undefined;
    }
    this.options.onRepair?.('record');
    return record;
  }

  /**
   * While Redis cannot answer (a cluster slot without a master during a failover, a Sentinel
   * promotion, an outage): the manifest `name` holds under `reference` (a tag or digest), from
   * storage alone, which is the truth: nothing is written back (Redis is what is missing) and nothing
   * remembered. Undefined when storage has no such manifest for `name`.
   */
  async readStored(name: string, reference: string): Promise<{ digest: Digest; mediaType: string; bytes: Buffer } | undefined> {
    const digest = isDigest(reference) ? reference : (await this.tags.storedCurrent(name, reference))?.digest;
    if (!digest || !(await this.manifests.hasStoredLink(name, digest))) return undefined;
    const bytes = await this.verifiedBytes(digest);
    if (!bytes) return undefined;
    return { digest, mediaType: parseManifest(bytes, undefined).mediaType, bytes };
  }

  /** The stored bytes of `digest` if they are there and are what the digest says. */
  private async verifiedBytes(digest: Digest): Promise<Buffer | undefined> {
    const bytes = await this.readContent(digest);
    return bytes && digestOf(bytes, digestAlgorithm(digest)) === digest ? bytes : undefined;
  }
}
