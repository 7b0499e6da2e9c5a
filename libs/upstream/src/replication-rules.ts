// Replication rules: "every new tag matching sourcePattern goes to this upstream". A pattern is a
// glob over `name[:tag]`: `*` matches within one path component, `**` across components, `?` one
// character; without `:tag` every tag matches. Examples: `team/**`, `library/*:v*`, `app:latest`.
import { randomBytes } from 'node:crypto';
import { ReplicationRuleRequestSchema, type ReplicationRule } from '@stevedore/api-contract';
import { RegistryError } from '@stevedore/oci';
import type { StorageDriver } from '@stevedore/storage';
import { JsonRecords } from './json-records';
import { UpstreamLayout } from './upstream-layout';

/** A stored rule, as the API shows it (the contract's ReplicationRule). */
export type { ReplicationRule };

function globToRegExp(glob: string, star: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += `${star}*`;
    else if (c === '?') re += star;
    else re += c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function matchesPattern(pattern: string, name: string, tag: string): boolean {
  const colon = pattern.lastIndexOf(':');
  const namePattern = colon < 0 ? pattern : pattern.slice(0, colon);
  const tagPattern = colon < 0 ? '**' : pattern.slice(colon + 1);
  return globToRegExp(namePattern, '[^/]').test(name) && globToRegExp(tagPattern, '.').test(tag);
}

export function targetRepository(rule: ReplicationRule, name: string): string {
  return rule.target.repository.split('{name}').join(name);
}

export class ReplicationRuleStore {
  private readonly records: JsonRecords<ReplicationRule>;
  constructor(storage: StorageDriver, cacheMs = 5000) {
    this.records = new JsonRecords(storage, UpstreamLayout.rulesRoot, UpstreamLayout.rule, cacheMs);
  }

  list(): Promise<ReplicationRule[]> {
    return this.records.list();
  }

  async matching(name: string, tag: string): Promise<ReplicationRule[]> {
    return (await this.list()).filter((r) => r.enabled && matchesPattern(r.sourcePattern, name, tag));
  }

  async create(input: unknown): Promise<ReplicationRule> {
    const r = ReplicationRuleRequestSchema.safeParse(input);
    if (!r.success) {
      const first = r.error.issues[0];
      throw new RegistryError('INVALID_REQUEST', `${first.path.join('.') || 'body'}: ${first.message}`);
    }
    const id = r.data.id ?? randomBytes(6).toString('hex');
    if (await this.records.get(id)) throw new RegistryError('CONFLICT', `rule "${id}" exists`, { id });
    const rule: ReplicationRule = {
      id,
      sourcePattern: r.data.sourcePattern,
      target: r.data.target,
      enabled: r.data.enabled,
      createdAt: new Date().toISOString(),
    };
    await this.records.put(rule);
    return rule;
  }

  async get(id: string): Promise<ReplicationRule> {
    const r = /^[a-z0-9][a-z0-9-]{0,62}$/.test(id) ? await this.records.get(id) : undefined;
    if (!r) throw new RegistryError('NOT_FOUND', `no replication rule "${id.slice(0, 80)}"`);
    return r;
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    await this.records.delete(id);
  }
}
