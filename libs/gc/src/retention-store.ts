// Retention rules: durable in storage (`gc/retention.json`), indexed in one Redis hash
// (repository pattern -> rule JSON) that is rebuilt from storage when Redis lost it.
import { RETENTION_PATH, gcKeys } from './gc-layout';
import type Redis from 'ioredis';
import type { RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { RegistryError } from '@stevedore/oci';
import { parseRetentionRule, type RetentionRule } from './retention';
import { DurableHash } from './durable-hash';

export { RETENTION_PATH } from './gc-layout';

export class RetentionStore {
  private readonly rules: DurableHash;
  constructor(storage: StorageDriver, redis: Redis, keys: RedisKeys) {
    this.rules = new DurableHash(storage, redis, RETENTION_PATH, gcKeys(keys).retention());
  }

  async list(): Promise<RetentionRule[]> {
    const all = Object.values(await this.rules.load());
    return all.map((v) => JSON.parse(v) as RetentionRule).sort((a, b) => a.repository.localeCompare(b.repository));
  }

  async put(body: unknown): Promise<RetentionRule> {
    const rule = parseRetentionRule(body);
    await this.rules.set(rule.repository, JSON.stringify(rule));
    return rule;
  }

  async remove(repository: string): Promise<void> {
    if (!(await this.rules.delete(repository)))
      throw new RegistryError('NOT_FOUND', 'no retention rule for that repository', { repository });
  }
}
