// The metadata service's interface: manifests, tags, referrers and the catalog.
// Implemented in-process by ManifestMetadata (createManifestMetadata) and over HTTP by the client derived from METADATA_RPC.
import type { Digest, LocalReference } from '@stevedore/oci';

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  size: number;
  bytes: Buffer;
}

export interface PutManifestResult {
  digest: Digest;
  mediaType: string;
  /** Set when the manifest has a subject (the OCI-Subject response header). */
  subject?: Digest;
}

export interface Page<T> {
  items: T[];
  /** The `last` value for the next page, when there is one. */
  next?: string;
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** A manifest holding an image (by its image ID): its repository, its digest and the tags on it. */
export interface ImageIdHolder {
  name: string;
  digest: Digest;
  tags: string[];
}

/** A digest a tag has named: each once, at the last time the tag named it. */
export interface TagHistoryEntry {
  digest: Digest;
  /** When the tag last named this digest (ms, as ManifestRecord's taggedAt). */
  taggedAt: number;
}

export interface PutManifestOptions {
  /**
   * Store the manifest although its blobs or children are not here yet. Only the pull-through
   * cache uses it: it caches an upstream's manifest before the blobs arrive on first GET.
   */
  allowMissingReferences?: boolean;
}

export interface MetadataService {
  /** The manifest a reference names (its digest, else its tag) in its repository; MANIFEST_UNKNOWN when absent. */
  getManifest(ref: LocalReference): Promise<StoredManifest>;
  /** Validate (every referenced blob and child must exist) and store in `ref.name`, by `ref.digest` (checked) or under `ref.tag`. */
  putManifest(
    ref: LocalReference,
    bytes: Buffer,
    contentType: string | undefined,
    options?: PutManifestOptions,
  ): Promise<PutManifestResult>;
  /** Delete a manifest by digest: its revision and every tag on it. */
  deleteManifest(name: string, digest: Digest): Promise<void>;
  /** Remove one tag; the manifest stays. */
  deleteTag(name: string, tag: string): Promise<void>;
  /** Point `tag` at an existing manifest of the repository (retag moves it). */
  tagManifest(name: string, tag: string, digest: Digest): Promise<void>;
  listTags(name: string, n?: number, last?: string): Promise<Page<string>>;
  /** Tags of one manifest. */
  tagsOf(name: string, digest: Digest): Promise<string[]>;
  catalog(n?: number, last?: string): Promise<Page<string>>;
  referrers(name: string, subject: Digest, artifactType?: string): Promise<ReferrerDescriptor[]>;
  /** The digests `tag` has named, oldest first (survives deleting the tag or its manifests). */
  tagHistory(name: string, tag: string): Promise<TagHistoryEntry[]>;
  /**
   * Docker's image IDs (config digests of image manifests) starting with `prefix` (`sha256:` and
   * hex), in order, at most `n`, after `after` (the last of the previous page) when given.
   */
  imageIds(prefix: string, n: number, after?: string): Promise<Digest[]>;
  /** Every manifest holding image `id`, by repository, with its tags (empty when nothing holds it). */
  imageHolders(id: Digest): Promise<ImageIdHolder[]>;
  /** Rebuild every Redis index from storage (after Redis was lost). */
  reindex(): Promise<{ repositories: number; manifests: number; tags: number; blobs: number }>;
}

export const METADATA_SERVICE = Symbol('MetadataService');

/** A manifest of one repository as garbage collection sees it. */
export interface ManifestRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  /** Last push, tag or reference as a child (ms, Redis clock); undefined until GC first stamps it. */
  touched?: number;
  /** Config and layers, or the children of an index. */
  references: Digest[];
  subject?: Digest;
  /** Tags on it, with when each was set (ms). */
  tags: Array<{ tag: string; taggedAt: number }>;
}

/** A manifest's global record (bytes in Redis and storage), whichever repositories hold it. */
export interface ManifestDataRecord {
  digest: Digest;
  size: number;
  touched?: number;
}

/**
 * What garbage collection (libs/gc) needs of the metadata service. Its own interface beside
 * MetadataService so wrappers (pull-through, test fakes) need not implement it; ManifestMetadata and
 * the METADATA_RPC client implement both, and MetadataModule provides the instance under both tokens.
 */
export interface ManifestGcService {
  /** Every manifest of repository `name`, with its references and tags. */
  listManifests(name: string): Promise<ManifestRecord[]>;
  /**
   * Remove manifests from repository `name` that are still untagged, not being pushed or tagged,
   * and not touched since `olderThan` (atomically per repository); returns those removed.
   */
  deleteUntagged(name: string, digests: Digest[], options: { olderThan: number }): Promise<Digest[]>;
  /** One page of every manifest record; pass the returned cursor until it is undefined. */
  listManifestData(cursor?: string): Promise<{ items: ManifestDataRecord[]; cursor?: string }>;
  /** Delete the records (index first, then bytes in storage) of manifests no repository holds. */
  purgeManifestData(digests: Digest[], options: { olderThan: number }): Promise<ManifestDataRecord[]>;
}

export const METADATA_GC_SERVICE = Symbol('MetadataGcService');
