// Referrers: per repository and subject, the manifests whose subject it is, as the descriptors the
// referrers API answers with. Written in the MULTI that indexes the referring manifest, so a
// manifest is never indexed without its referrer entry.
import type Redis from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import type { Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import { metadataKeys, type MetadataKeys } from './metadata-layout';
import type { ReferrerDescriptor } from './metadata-service';

export class ReferrerRepository {
  private readonly k: MetadataKeys;

  constructor(
    private readonly redis: Redis,
    keys: RedisKeys,
  ) {
    this.k = metadataKeys(keys);
  }

  /** Record `referrer` under `subject` within the caller's MULTI; empty annotations are left out, as the API does. */
  queueAdd(
    m: ChainableCommander,
    name: string,
    subject: string,
    referrer: { mediaType: string; digest: Digest; size: number; artifactType?: string; annotations?: Record<string, string> },
  ): void {
    const desc: ReferrerDescriptor = { mediaType: referrer.mediaType, digest: referrer.digest, size: referrer.size };
    if (referrer.artifactType) desc.artifactType = referrer.artifactType;
    if (referrer.annotations && Object.keys(referrer.annotations).length) desc.annotations = referrer.annotations;
    m.hset(this.k.referrers(name, subject), referrer.digest, JSON.stringify(desc));
  }

  async remove(name: string, subject: string, referrer: Digest): Promise<void> {
    await this.redis.hdel(this.k.referrers(name, subject), referrer);
  }

  /** The referrers of `subject`, by digest; only those of `artifactType` when given. */
  async list(name: string, subject: Digest, artifactType?: string): Promise<ReferrerDescriptor[]> {
    const all = await this.redis.hvals(this.k.referrers(name, subject));
    const list = all.map((v) => JSON.parse(v) as ReferrerDescriptor).filter((d) => !artifactType || d.artifactType === artifactType);
    return list.sort((a, b) => a.digest.localeCompare(b.digest));
  }
}
