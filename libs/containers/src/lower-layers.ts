// The image side of a container: each lower layer read once into an index of entries (contents go
// to the content store), kept in storage and Redis by layer digest, and merged views held in
// memory by manifest digest. Layers are immutable, so none of these caches can go stale.
import type Redis from 'ioredis';
import type { BlobService } from '@stevedore/blobs';
import { RegistryError, type Digest } from '@stevedore/oci';
import type { StorageDriver } from '@stevedore/storage';
import { MergedView, readLayer, type ContentStore, type Entry, type Layer } from '@stevedore/unionfs';
import { ContainerPaths } from './content-store';
import type { ContainerImage } from './container';

const MAX_VIEWS = 64;

export class LowerLayers {
  private readonly views = new Map<string, MergedView>();
  private readonly inflight = new Map<string, Promise<Layer>>();

  constructor(
    private readonly blobs: BlobService,
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    private readonly key: (digest: Digest) => string,
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

  layer(repository: string, digest: Digest): Promise<Layer> {
    let p = this.inflight.get(digest);
    if (!p) {
      p = this.load(repository, digest).finally(() => this.inflight.delete(digest));
      this.inflight.set(digest, p);
    }
    return p;
  }

  private async load(repository: string, digest: Digest): Promise<Layer> {
    const hit = await this.redis.getBuffer(this.key(digest));
    if (hit) return { entries: JSON.parse(hit.toString()) as Entry[] };
    const stored = await this.storage.getContent(ContainerPaths.layerIndex(digest)).catch(() => undefined);
    if (stored) {
      await this.redis.set(this.key(digest), stored);
      return { entries: JSON.parse(stored.toString()) as Entry[] };
    }
    const blob = await this.blobs.open(repository, digest);
    if (!blob.stream) throw new RegistryError('BLOB_UNKNOWN', `layer ${digest} of ${repository} cannot be read`, { digest });
    // Layers already in the registry: their device files are the image's (only client archives are limited).
    const read = await readLayer(blob.stream, { contentStore: this.content, allowDevices: true });
    const json = Buffer.from(JSON.stringify(read.layer.entries));
    await this.storage.putContent(ContainerPaths.layerIndex(digest), json);
    await this.redis.set(this.key(digest), json);
    return read.layer;
  }
}
