// The image side of a container: each lower layer read once into an index of entries (contents go
// to the content store), kept in storage and Redis by layer digest, and held in memory by layer
// digest within a byte budget (an image's merged view is a few pointers over those, made per
// request; images sharing a base layer share its index). Layers are immutable, so none of these
// caches can go stale; the container GC may remove an index no container uses
// (ContainerCollector), which is why creating a container stamps its layers as used and drops
// in-memory indexes Redis no longer holds.
import { LRUCache } from 'lru-cache';
import type Redis from 'ioredis';
import type { BlobService } from '@stevedore/blobs';
import { RegistryError, type Digest } from '@stevedore/oci';
import type { StorageDriver } from '@stevedore/storage';
import { MemoryLayerIndex, MergedView, readLayer, type ContentStore, type Entry, type Layer } from '@stevedore/unionfs';
import { ContainerPaths } from './container-layout';
import type { ContainerImage } from './container';

/** Bytes of layer indexes one process keeps in memory (see HEAP_PER_JSON_BYTE for how they are counted). */
export const LAYER_INDEX_CACHE_BYTES = 256 * 2 ** 20;
// An index in memory (its entries and MemoryLayerIndex's maps) measured 1.7 times its JSON's bytes
// (100,000 files: 18.3 MB of JSON, 30.8 MB of heap; README "Memory"): counted as 2.
const HEAP_PER_JSON_BYTE = 2;

// KEYS: the layer's used stamp. Stamps it with Redis' clock (the clock GC takes its cutoff from).
const STAMP = `
local t = redis.call('TIME')
redis.call('SET', KEYS[1], t[1] * 1000 + math.floor(t[2] / 1000))
return 1`;

/** Redis keys of one layer's index: the cached entries and when a container last used it. */
export interface LayerIndexKeys {
  cache(digest: Digest): string;
  used(digest: Digest): string;
}

export class LowerLayers {
  // Least recently used first out, bounded by the bytes the indexes weigh (not their count: one index
  // of 100,000 entries weighs as much as thousands of small ones); one heavier than the whole budget
  // is not kept (its request still has it).
  private readonly indexes: LRUCache<Digest, MemoryLayerIndex>;
  private readonly inflight = new Map<string, Promise<MemoryLayerIndex>>();

  constructor(
    private readonly blobs: BlobService,
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    private readonly keys: LayerIndexKeys,
    private readonly content: ContentStore,
    cacheBytes = LAYER_INDEX_CACHE_BYTES,
  ) {
    this.indexes = new LRUCache<Digest, MemoryLayerIndex>({ maxSize: Math.max(1, cacheBytes), maxEntrySize: Math.max(1, cacheBytes) });
  }

  /** Layer indexes held in memory: how many, and the bytes they are counted as. */
  get cached(): { indexes: number; bytes: number } {
    return { indexes: this.indexes.size, bytes: this.indexes.calculatedSize };
  }

  async view(image: ContainerImage): Promise<MergedView> {
    return new MergedView(await Promise.all(image.layers.map((d) => this.layer(image.repository, d))));
  }

  /**
   * Mark the image's layers as used now (before a container of it is recorded). A layer whose
   * index Redis lost (GC removed it, here or in another replica) is dropped from memory, so the
   * next view reads the index again, from storage or the layer itself.
   */
  async touch(image: ContainerImage): Promise<void> {
    // Per layer (its two keys share its {digest} slot), not one pipeline across layers: a cluster
    // pipeline must keep to one slot. Auto-pipelining sends them together.
    const cached = await Promise.all(
      image.layers.map(async (d) => {
        const [, exists] = await Promise.all([this.redis.eval(STAMP, 1, this.keys.used(d)), this.redis.exists(this.keys.cache(d))]);
        return exists;
      }),
    );
    image.layers.forEach((d, i) => {
      if (cached[i] === 0) this.indexes.delete(d);
    });
  }

  /** Forget the indexes this process holds in memory (after GC removed some). */
  forget(): void {
    this.indexes.clear();
  }

  /** One layer's index: from memory, else Redis, else storage, else read from the layer itself. */
  layer(repository: string, digest: Digest): Promise<MemoryLayerIndex> {
    const cached = this.indexes.get(digest);
    if (cached) return Promise.resolve(cached);
    let p = this.inflight.get(digest);
    if (!p) {
      p = this.load(repository, digest).finally(() => this.inflight.delete(digest));
      this.inflight.set(digest, p);
    }
    return p;
  }

  private async load(repository: string, digest: Digest): Promise<MemoryLayerIndex> {
    let json = await this.redis.getBuffer(this.keys.cache(digest));
    if (!json) {
      json = (await this.storage.getContent(ContainerPaths.layerIndex(digest)).catch(() => undefined)) ?? null;
      if (json) await this.redis.set(this.keys.cache(digest), json);
    }
    if (!json) return (await this.rebuild(repository, digest)).index;
    return this.keep(digest, JSON.parse(json.toString()) as Entry[], json.length);
  }

  private keep(digest: Digest, entries: readonly Entry[], jsonBytes: number): MemoryLayerIndex {
    const index = new MemoryLayerIndex(entries);
    this.indexes.set(digest, index, { size: Math.max(1, Math.ceil(jsonBytes * HEAP_PER_JSON_BYTE)) });
    return index;
  }

  /** Read the layer itself into a new index (its contents stored again, and so stamped fresh). */
  async rebuild(repository: string, digest: Digest): Promise<{ layer: Layer; index: MemoryLayerIndex }> {
    const blob = await this.blobs.open(repository, digest);
    if (!blob.stream) throw new RegistryError('BLOB_UNKNOWN', `layer ${digest} of ${repository} cannot be read`, { digest });
    // Layers already in the registry: their device files are the image's (only client archives are limited).
    const read = await readLayer(blob.stream, { contentStore: this.content, allowDevices: true });
    const json = Buffer.from(JSON.stringify(read.layer.entries));
    await this.redis.eval(STAMP, 1, this.keys.used(digest));
    await this.storage.putContent(ContainerPaths.layerIndex(digest), json);
    await this.redis.set(this.keys.cache(digest), json);
    return { layer: read.layer, index: this.keep(digest, read.layer.entries, json.length) };
  }
}
