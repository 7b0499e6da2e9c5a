// The image side of a container: each lower layer read once into an index of entries (contents go
// to the content store), kept in storage and Redis by layer digest, and merged views held in
// memory by manifest digest. Layers are immutable, so none of these caches can go stale; the
// container GC may remove an index no container uses (ContainerCollector), which is why creating a
// container stamps its layers as used and drops views whose index Redis no longer holds.
import type Redis from 'ioredis';
import type { BlobService } from '@stevedore/blobs';
import { RegistryError, type Digest } from '@stevedore/oci';
import type { StorageDriver } from '@stevedore/storage';
import { MergedView, readLayer, type ContentStore, type Entry, type Layer } from '@stevedore/unionfs';
import { ContainerPaths } from './container-layout';
import type { ContainerImage } from './container';

const MAX_VIEWS = 64;

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
  private readonly views = new Map<string, MergedView>();
  private readonly inflight = new Map<string, Promise<Layer>>();

  constructor(
    private readonly blobs: BlobService,
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    private readonly keys: LayerIndexKeys,
    private readonly content: ContentStore,
  ) {}

  async view(image: ContainerImage): Promise<MergedView> {
    const cached = this.views.get(image.manifestDigest);
    if (cached) return cached;
    const layers = await Promise.all(image.layers.map((d) => this.layer(image.repository, d)));
    const view = new MergedView(layers);
    if (this.views.size >= MAX_VIEWS) this.views.delete(this.views.keys().next().value!);
    this.views.set(image.manifestDigest, view);
    return view;
  }

  /**
   * Mark the image's layers as used now (before a container of it is recorded). A layer whose
   * index Redis lost (GC removed it, here or in another replica) drops the views held here, so the
   * next view reads the index again, from storage or the layer itself.
   */
  async touch(image: ContainerImage): Promise<void> {
    const p = this.redis.pipeline();
    for (const d of image.layers) p.eval(STAMP, 1, this.keys.used(d)).exists(this.keys.cache(d));
    const out = (await p.exec()) ?? [];
    const lost = image.layers.some((_, i) => out[i * 2 + 1]?.[1] === 0);
    if (lost) this.views.clear();
  }

  /** Forget what this process holds in memory (after GC removed indexes). */
  forgetViews(): void {
    this.views.clear();
  }

  layer(repository: string, digest: Digest): Promise<Layer> {
    let p = this.inflight.get(digest);
    if (!p) {
      p = this.load(repository, digest).finally(() => this.inflight.delete(digest));
      this.inflight.set(digest, p);
    }
    return p;
  }

  private async load(repository: string, digest: Digest): Promise<Layer> {
    const hit = await this.redis.getBuffer(this.keys.cache(digest));
    if (hit) return { entries: JSON.parse(hit.toString()) as Entry[] };
    const stored = await this.storage.getContent(ContainerPaths.layerIndex(digest)).catch(() => undefined);
    if (stored) {
      await this.redis.set(this.keys.cache(digest), stored);
      return { entries: JSON.parse(stored.toString()) as Entry[] };
    }
    return this.rebuild(repository, digest);
  }

  /** Read the layer itself into a new index (its contents stored again, and so stamped fresh). */
  async rebuild(repository: string, digest: Digest): Promise<Layer> {
    const blob = await this.blobs.open(repository, digest);
    if (!blob.stream) throw new RegistryError('BLOB_UNKNOWN', `layer ${digest} of ${repository} cannot be read`, { digest });
    // Layers already in the registry: their device files are the image's (only client archives are limited).
    const read = await readLayer(blob.stream, { contentStore: this.content, allowDevices: true });
    const json = Buffer.from(JSON.stringify(read.layer.entries));
    await this.redis.eval(STAMP, 1, this.keys.used(digest));
    await this.storage.putContent(ContainerPaths.layerIndex(digest), json);
    await this.redis.set(this.keys.cache(digest), json);
    return read.layer;
  }
}
