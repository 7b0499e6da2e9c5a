// The metadata service's interface: manifests, tags, referrers and the catalog.
// Implemented in-process by ManifestStore and over HTTP by MetadataServiceClient.
import type { Digest } from '@stevedore/oci';

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

export interface TagHistoryEntry {
  digest: Digest;
}

export interface PutManifestOptions {
  /**
   * Store the manifest although its blobs or children are not here yet. Only the pull-through
   * cache uses it: it caches an upstream's manifest before the blobs arrive on first GET.
   */
  allowMissingReferences?: boolean;
}

export interface MetadataService {
  /** By tag or digest; MANIFEST_UNKNOWN when absent. */
  getManifest(name: string, reference: string): Promise<StoredManifest>;
  /** Validate (every referenced blob and child must exist) and store; tag it when `reference` is a tag. */
  putManifest(name: string, reference: string, bytes: Buffer, contentType: string | undefined, options?: PutManifestOptions): Promise<PutManifestResult>;
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
  tagHistory(name: string, tag: string): Promise<TagHistoryEntry[]>;
  /** Rebuild every Redis index from storage (after Redis was lost). */
  reindex(): Promise<{ repositories: number; manifests: number; tags: number; blobs: number }>;
}

export const METADATA_SERVICE = Symbol('MetadataService');
