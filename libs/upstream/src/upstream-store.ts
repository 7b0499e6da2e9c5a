// Configured upstreams: durable in storage, passwords sealed, read through a short cache.
import { randomBytes } from 'node:crypto';
import { RegistryError } from '@stevedore/oci';
import type { StorageDriver } from '@stevedore/storage';
import { JsonRecords } from './json-records';
import type { SecretBox } from './secret-box';
import { UpstreamInputSchema, type Upstream, type UpstreamInput, type UpstreamRecord } from './upstream';
import { resolveUpstream, type UpstreamMapping } from './upstream-mapping';
import { UpstreamLayout } from './upstream-layout';

export class UpstreamStore {
  private readonly records: JsonRecords<UpstreamRecord>;
  constructor(
    storage: StorageDriver,
    private readonly box: SecretBox,
    cacheMs = 5000,
  ) {
    this.records = new JsonRecords(storage, UpstreamLayout.upstreamsRoot, UpstreamLayout.upstream, cacheMs);
  }

  list(): Promise<UpstreamRecord[]> {
    return this.records.list();
  }

  async get(id: string): Promise<UpstreamRecord> {
    const r = /^[a-z0-9][a-z0-9-]{0,62}$/.test(id) ? await this.records.get(id) : undefined;
    if (!r) throw new RegistryError('NOT_FOUND', `no upstream "${id.slice(0, 80)}"`, { id: id.slice(0, 80) });
    return r;
  }

  /** The record with its password decrypted, for talking to the registry. */
  async open(id: string): Promise<Upstream> {
    return this.unseal(await this.get(id));
  }

  unseal(record: UpstreamRecord): Upstream {
    if (!record.username || !record.passwordSealed) return { record };
    return { record, credentials: { username: record.username, password: this.box.decrypt(record.passwordSealed) } };
  }

  async resolve(name: string): Promise<UpstreamMapping | undefined> {
    return resolveUpstream(name, await this.list());
  }

  async create(input: unknown): Promise<UpstreamRecord> {
    const parsed = this.parse(input);
    const id = parsed.id ?? randomBytes(6).toString('hex');
    if (await this.records.get(id)) throw new RegistryError('CONFLICT', `upstream "${id}" exists`, { id });
    const now = new Date().toISOString();
    const record = this.build(id, parsed, now, now);
    await this.checkConflicts(record);
    await this.records.put(record);
    return record;
  }

  /** Replace the settings; a missing password keeps the stored one (so a view can be edited back). */
  async update(id: string, input: unknown): Promise<UpstreamRecord> {
    const old = await this.get(id);
    const parsed = this.parse(input);
    const record = this.build(id, parsed, old.createdAt, new Date().toISOString());
    if (parsed.password === undefined && parsed.username === old.username) record.passwordSealed = old.passwordSealed;
    await this.checkConflicts(record);
    await this.records.put(record);
    return record;
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    await this.records.delete(id);
  }

  private parse(input: unknown): ReturnType<typeof UpstreamInputSchema.parse> {
    const r = UpstreamInputSchema.safeParse(input);
    if (!r.success) {
      const first = r.error.issues[0];
      throw new RegistryError('INVALID_REQUEST', `${first.path.join('.') || 'body'}: ${first.message}`, {
        issues: r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    }
    if (r.data.password !== undefined && r.data.username === undefined)
      throw new RegistryError('INVALID_REQUEST', 'password needs a username');
    return r.data;
  }

  private build(id: string, p: ReturnType<typeof UpstreamInputSchema.parse>, createdAt: string, updatedAt: string): UpstreamRecord {
    const record: UpstreamRecord = {
      id,
      url: p.url.replace(/\/+$/, ''),
      prefixes: [...new Set(p.prefixes)],
      default: p.default,
      createdAt,
      updatedAt,
    };
    if (p.username) record.username = p.username;
    if (p.password) record.passwordSealed = this.box.encrypt(p.password);
    return record;
  }

  private async checkConflicts(record: UpstreamRecord): Promise<void> {
    const others = (await this.records.list()).filter((u) => u.id !== record.id);
    // The cache may be a few seconds old; a conflict it misses only makes the longest prefix ambiguous.
    for (const o of others) {
      if (record.default && o.default) throw new RegistryError('CONFLICT', `upstream "${o.id}" already serves short names`, { id: o.id });
      const shared = o.prefixes.filter((p) => record.prefixes.includes(p));
      if (shared.length)
        throw new RegistryError('CONFLICT', `prefix "${shared[0]}" is served by upstream "${o.id}"`, { id: o.id, prefix: shared[0] });
    }
  }
}

export type { UpstreamInput };
