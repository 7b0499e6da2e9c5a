// Retention rules, kept in Redis (one hash: repository pattern -> rule JSON).
import type Redis from 'ioredis';
import type { RedisKeys } from '@stevedore/platform';
import { RegistryError } from '@stevedore/oci';
import { parseRetentionRule, type RetentionRule } from './retention';

export class RetentionStore {
  private readonly key: string;
  constructor(
    private readonly redis: Redis,
    keys: RedisKeys,
  ) {
    this.key = keys.key('gc', 'retention');
  }

  async list(): Promise<RetentionRule[]> {
    const all = await this.redis.hvals(this.key);
    return all.map((v) => JSON.parse(v) as RetentionRule).sort((a, b) => a.repository.localeCompare(b.repository));
  }

  async put(body: unknown): Promise<RetentionRule> {
    const rule = parseRetentionRule(body);
    await this.redis.hset(this.key, rule.repository, JSON.stringify(rule));
    return rule;
  }

  async remove(repository: string): Promise<void> {
    if (!(await this.redis.hdel(this.key, repository))) throw new RegistryError('NOT_FOUND', 'no retention rule for that repository', { repository });
  }
}
