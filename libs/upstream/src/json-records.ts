// Small JSON records in storage, listed through a short in-memory cache so hot paths (every
// manifest GET asks "is this name upstream-served?") do not list storage; other replicas see a
// change within `ttlMs`.
import type { StorageDriver } from '@stevedore/storage';

export class JsonRecords<T extends { id: string }> {
  private cache?: { at: number; items: T[] };
  constructor(
    private readonly storage: StorageDriver,
    private readonly root: string,
    private readonly keyOf: (id: string) => string,
    private readonly ttlMs = 5000,
  ) {}

  async list(): Promise<T[]> {
    if (this.cache && Date.now() - this.cache.at < this.ttlMs) return this.cache.items;
    const items: T[] = [];
    for await (const f of this.storage.list(this.root)) {
      if (!f.path.endsWith('.json') || f.path.slice(this.root.length).includes('/')) continue;
      try {
        items.push(JSON.parse((await this.storage.getContent(f.path)).toString('utf8')) as T);
      } catch {
        // Deleted between list and read, or unreadable: not a record.
      }
    }
    items.sort((a, b) => a.id.localeCompare(b.id));
    this.cache = { at: Date.now(), items };
    return items;
  }

  async get(id: string): Promise<T | undefined> {
    try {
      return JSON.parse((await this.storage.getContent(this.keyOf(id))).toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }

  async put(record: T): Promise<void> {
    await this.storage.putContent(this.keyOf(record.id), JSON.stringify(record, null, 2));
    this.cache = undefined;
  }

  async delete(id: string): Promise<void> {
    await this.storage.delete(this.keyOf(id));
    this.cache = undefined;
  }
}
