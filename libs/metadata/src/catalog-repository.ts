// The catalog: every repository name with a manifest indexed, for /v2/_catalog and for telling
// an unknown repository (NAME_UNKNOWN) from one without tags. A repository enters when its first
// manifest is indexed and stays (as in distribution, deleting manifests does not remove it).
import type Redis from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import type { RedisKeys } from '@stevedore/platform';
import { lexPage } from './lex-page';
import { metadataKeys, type MetadataKeys } from './metadata-layout';
import type { Page } from './metadata-service';

export class CatalogRepository {
  private readonly k: MetadataKeys;

  constructor(
    private readonly redis: Redis,
    keys: RedisKeys,
  ) {
    this.k = metadataKeys(keys);
  }

  /** Add `name` within the caller's MULTI (the one that indexes its manifest). */
  queueAdd(m: ChainableCommander, name: string): void {
    m.zadd(this.k.catalog(), 0, name);
  }

  /** For the consistency pass: a repository storage holds manifests of (outside any MULTI). */
  async add(name: string): Promise<void> {
    await this.redis.zadd(this.k.catalog(), 0, name);
  }

  /** For the consistency pass: a repository storage holds nothing of; whether it was there. */
  async remove(name: string): Promise<boolean> {
    return (await this.redis.zrem(this.k.catalog(), name)) === 1;
  }

  async has(name: string): Promise<boolean> {
    return (await this.redis.zscore(this.k.catalog(), name)) !== null;
  }

  page(n?: number, last?: string): Promise<Page<string>> {
    return lexPage(this.redis, this.k.catalog(), n, last);
  }
}
