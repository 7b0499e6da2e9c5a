// Image IDs: Docker's one image store over the registry's repositories. An image ID is the config
// digest of an image manifest (what `stevedore images` shows as IMAGE ID); this index maps each ID
// to every `<repository>@<manifest digest>` that holds it, so an ID, or a prefix of one, names the
// image wherever it is tagged. Indexes (manifest lists) have no config and are not images; nor are
// artifacts whose config is not an image config (signatures share the empty config, and one ID for
// all of them would make `rmi -f` of it remove every one).
//
// The holder is added in the MULTI that indexes the manifest (ManifestRepository.index; on a cluster
// the image-ID slot's MULTI of it) and removed after its revision (remove, GC's removeUntagged); UNHOLD drops the ID from the sorted set in the
// same step its last holder goes, so the set lists exactly the IDs something holds. A Redis that an
// older version indexed has revisions but no image-ID keys: the first lookup backfills them from the
// revisions (ManifestRepository.ensureImageIds) unless reindex has marked them complete. Answers keep
// only holders whose revision is still there, so a holder a backfill raced back in is never served.
import type Redis from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import { MediaTypes, type Digest, type ParsedManifest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import { metadataKeys, type MetadataKeys } from './metadata-layout';

const IMAGE_CONFIG_TYPES: readonly string[] = [MediaTypes.ociConfig, MediaTypes.dockerConfig];

/** The shortest prefix taken (Docker's truncindex takes any; 4 keeps a prefix from naming half the store). */
export const MIN_IMAGE_ID_PREFIX = 4;

/** A manifest holding an image: its repository and its digest. */
export interface ImageHolder {
  name: string;
  digest: Digest;
}

/** The image ID of a manifest: its config digest when it is an image manifest with an image config. */
export function imageIdOf(parsed: Pick<ParsedManifest, 'isIndex' | 'references'>): Digest | undefined {
  if (parsed.isIndex) return undefined;
  const config = parsed.references[0];
  return config && IMAGE_CONFIG_TYPES.includes(config.mediaType) ? (config.digest as Digest) : undefined;
}

/**
 * An image ID or prefix as Docker takes it, as the `sha256:<hex>` prefix to look up: a full ID, or
 * 4 to 64 lowercase hex digits with or without `sha256:`. Undefined for anything else.
 */
export function imageIdPrefix(input: string): string | undefined {
  const m = /^(?:sha256:)?([0-9a-f]+)$/.exec(input);
  if (!m || m[1].length < MIN_IMAGE_ID_PREFIX || m[1].length > 64) return undefined;
  return `sha256:${m[1]}`;
}

const member = (h: ImageHolder) => `${h.name}@${h.digest}`;

function parseMember(m: string): ImageHolder {
  // Repository names have no '@'; digests have none either.
  const at = m.lastIndexOf('@');
  return { name: m.slice(0, at), digest: m.slice(at + 1) as Digest };
}

// Drop one holder of an image, and the image from the ID set when it was the last. KEYS: holders,
// ids. ARGV: member, id.
const UNHOLD = `
redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[2]) end
return 1`;

export class ImageIdRepository {
  private readonly k: MetadataKeys;

  constructor(
    private readonly redis: Redis,
    keys: RedisKeys,
  ) {
    this.k = metadataKeys(keys);
  }

  /** Record that `name@digest` holds image `id`, within the caller's MULTI (the one that indexes the manifest). */
  queueAdd(m: ChainableCommander, name: string, digest: Digest, id: Digest): void {
    m.sadd(this.k.imageHolders(id), member({ name, digest }));
    m.zadd(this.k.imageIds(), 0, id);
  }

  /** For the consistency pass: whether `name@digest` is a holder of `id` and `id` is in the set. */
  async isHeld(name: string, digest: Digest, id: Digest): Promise<boolean> {
    const [[, held], [, score]] = (await this.redis
      .pipeline()
      .sismember(this.k.imageHolders(id), member({ name, digest }))
      .zscore(this.k.imageIds(), id)
      .exec()) as [[unknown, number], [unknown, string | null]];
    return held === 1 && score !== null;
  }

  /** For the consistency pass: record a holder outside a MULTI (holder first, then the ID: the two keys are in different slots). */
  async add(name: string, digest: Digest, id: Digest): Promise<void> {
    await this.redis.sadd(this.k.imageHolders(id), member({ name, digest }));
    await this.redis.zadd(this.k.imageIds(), 0, id);
  }

  /** For the consistency pass: drop `id` from the set when nothing holds it (UNHOLD, atomic against a holder being added). */
  async forgetIfUnheld(id: Digest): Promise<boolean> {
    await this.redis.eval(UNHOLD, 2, this.k.imageHolders(id), this.k.imageIds(), '', id);
    return (await this.redis.zscore(this.k.imageIds(), id)) === null;
  }

  /** For the consistency pass: every holder of `id`, whether or not its revision is still there. */
  async allHolders(id: Digest): Promise<ImageHolder[]> {
    return (await this.redis.smembers(this.k.imageHolders(id))).map(parseMember);
  }

  /** `name@digest` no longer holds image `id` (its revision is gone). */
  async remove(name: string, digest: Digest, id: Digest): Promise<void> {
    await this.redis.eval(UNHOLD, 2, this.k.imageHolders(id), this.k.imageIds(), member({ name, digest }), id);
  }

  /**
   * The IDs starting with `prefix` (`sha256:` and hex, see imageIdPrefix), in order, at most `n`,
   * strictly after `after` when given (the last of the previous page).
   */
  async find(prefix: string, n: number, after?: string): Promise<Digest[]> {
    // After the prefix come hex digits only, all below '~'.
    // `after` at or past the prefix (a full ID is its own prefix) excludes itself.
    const min = after !== undefined && after >= prefix ? `(${after}` : `[${prefix}`;
    return (await this.redis.zrangebylex(this.k.imageIds(), min, `[${prefix}~`, 'LIMIT', 0, n)) as Digest[];
  }

  /** Every manifest holding image `id` (its revision is in the repository), by repository then digest. */
  async holders(id: Digest): Promise<ImageHolder[]> {
    const all = (await this.redis.smembers(this.k.imageHolders(id))).map(parseMember);
    if (!all.length) return [];
    // One command per repository, not a pipeline: on a cluster a pipeline must stay in one slot
    // (auto-pipelining still sends them together, per node).
    const linked = await Promise.all(all.map((h) => this.redis.sismember(this.k.revisions(h.name), h.digest)));
    return all
      .filter((_, i) => linked[i] === 1)
      .sort((a, b) => (a.name === b.name ? a.digest.localeCompare(b.digest) : a.name < b.name ? -1 : 1));
  }

  /** Whether the index covers every revision (reindex or a backfill said so). */
  async isComplete(): Promise<boolean> {
    return (await this.redis.exists(this.k.imageIdsIndexed())) === 1;
  }

  async markComplete(): Promise<void> {
    await this.redis.set(this.k.imageIdsIndexed(), String(Date.now()));
  }
}
