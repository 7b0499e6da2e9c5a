// This registry as both sides of a copy (libs/oci copy): a source of the images and indexes it
// holds, whose layers name this store as their origin so a copy into another repository here links
// them instead of moving bytes; and a sink that stores blobs through the blob service (which checks
// digests), manifests and tags through the metadata service.
import type { Readable } from 'node:stream';
import {
  RegistryError,
  imageFromBlobs,
  indexFrom,
  parseManifest,
  type Artifact,
  type BlobOutcome,
  type Digest,
  type ImageSink,
  type LocalReference,
  type SinkBlob,
} from '@stevedore/oci';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import { openBlobStream } from './blob-stream';
import type { LayerSizeCache } from './layer-size-cache';

/** The store name layers of this registry carry (LayerOrigin.store). */
export const LOCAL_STORE = 'local';

const MAX_INDEX_DEPTH = 4;

export class LocalImageSink implements ImageSink {
  readonly store = LOCAL_STORE;
  constructor(
    private readonly blobs: BlobService,
    private readonly metadata: MetadataService,
    private readonly sizes?: LayerSizeCache,
    /** A pull-through cache stores manifests before the blobs they name (fetched on first GET). */
    private readonly options: { allowMissingReferences?: boolean } = {},
  ) {}

  async putBlob(
    repository: string,
    blob: SinkBlob,
    storedIn: readonly string[],
  ): Promise<{ outcome: BlobOutcome; digest: Digest; size: number }> {
    if (blob.digest) {
      const here = await this.blobs.stat(repository, blob.digest);
      if (here) return { outcome: 'exists', digest: here.digest, size: here.size };
      for (const from of storedIn) {
        const linked = await this.blobs.mount(repository, from, blob.digest);
        if (linked) return { outcome: 'mounted', digest: linked.digest, size: linked.size };
      }
    }
    let body: Readable;
    try {
      body = await blob.open();
    } catch (e) {
      // A mountable layer whose origin lost it (or never had it): say which blob.
      if (RegistryError.is(e)) throw e;
      throw new RegistryError('BLOB_UNKNOWN', `blob ${blob.digest ?? '(new layer)'} cannot be read: ${(e as Error).message}`, {
        digest: blob.digest,
      });
    }
    const info = await this.blobs.putBlob(repository, body, blob.digest, blob.size);
    return { outcome: 'uploaded', digest: info.digest, size: info.size };
  }

  async putManifest(repository: string, digest: Digest, bytes: Buffer, mediaType: string): Promise<void> {
    await this.metadata.putManifest({ name: repository, digest }, bytes, mediaType, this.options);
  }

  tag(repository: string, tag: string, digest: Digest): Promise<void> {
    return this.metadata.tagManifest(repository, tag, digest);
  }

  async layerUnpacked(digest: Digest, uncompressedSize: number): Promise<void> {
    await this.sizes?.set(digest, uncompressedSize);
  }
}

/**
 * The manifest half of the local sink, for a manifests-only copy (a pull-through cache: the blobs
 * come on their first GET, so manifests are stored before the blobs they name).
 */
export function localManifestSink(metadata: MetadataService): ImageSink {
  return {
    store: LOCAL_STORE,
    putBlob: async () => {
      throw new RegistryError('UNSUPPORTED', 'a manifests-only copy stores no blobs');
    },
    putManifest: async (repository, digest, bytes, mediaType) => {
      await metadata.putManifest({ name: repository, digest }, bytes, mediaType, { allowMissingReferences: true });
    },
    tag: (repository, tag, digest) => metadata.tagManifest(repository, tag, digest),
  };
}

/** An image or index held here, as a copy source; children of an index are read from the same repository. */
export async function localArtifact(blobs: BlobService, metadata: MetadataService, ref: LocalReference, depth = 0): Promise<Artifact> {
  const repository = ref.name;
  const reference = ref.digest ?? ref.tag;
  if (reference === undefined) throw new RegistryError('INVALID_REQUEST', `${repository}: name a tag or a digest`);
  if (depth > MAX_INDEX_DEPTH) throw new RegistryError('MANIFEST_INVALID', 'index nesting too deep', { repository, reference });
  const m = await metadata.getManifest(ref);
  const parsed = parseManifest(m.bytes, m.mediaType);
  if (parsed.isIndex) {
    const children: Artifact[] = [];
    for (const child of parsed.references)
      children.push(await localArtifact(blobs, metadata, { name: repository, digest: child.digest as Digest }, depth + 1));
    return { kind: 'index', index: indexFrom(m.bytes, children, m.mediaType) };
  }
  return {
    kind: 'image',
    image: imageFromBlobs({
      rawManifest: m.bytes,
      mediaType: m.mediaType,
      openBlob: (d) => openBlobStream(blobs, repository, d.digest as Digest),
      origin: { store: LOCAL_STORE, repository },
    }),
  };
}
