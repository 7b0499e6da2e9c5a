// One RemoteRegistry per configured upstream, kept while its record is unchanged, so tokens and
// connections are reused across requests.
import type { RemoteRegistryOptions } from './remote-registry';
import { RemoteRegistry } from './remote-registry';
import type { UpstreamRecord } from './upstream';
import type { UpstreamStore } from './upstream-store';

export class UpstreamClients {
  private readonly clients = new Map<string, { version: string; registry: RemoteRegistry }>();
  constructor(
    private readonly store: UpstreamStore,
    private readonly options: RemoteRegistryOptions = {},
  ) {}

  for(record: UpstreamRecord): RemoteRegistry {
    const have = this.clients.get(record.id);
    if (have && have.version === record.updatedAt) return have.registry;
    const u = this.store.unseal(record);
    const registry = new RemoteRegistry(record.url, u.credentials, this.options);
    if (have) void have.registry.close().catch(() => undefined);
    this.clients.set(record.id, { version: record.updatedAt, registry });
    return registry;
  }

  async byId(id: string): Promise<{ record: UpstreamRecord; registry: RemoteRegistry }> {
    const record = await this.store.get(id);
    return { record, registry: this.for(record) };
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.registry.close().catch(() => undefined)));
    this.clients.clear();
  }
}
