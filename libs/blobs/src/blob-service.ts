// The blob service's interface: what the registry API, commits and loads need from layer storage.
// Implemented in-process by LayerStorage (layer-storage.ts) and over HTTP by the client derived from BLOB_RPC (split deployments).
import type { Readable } from 'node:stream';
import type { Digest } from '@stevedore/oci';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface UploadStatus {
  id: string;
  name: string;
  /** Bytes received so far; the next chunk must start here. */
  offset: number;
}

export interface ByteRange {
  start: number;
  /** Inclusive last byte; undefined means to the end. */
  end?: number;
}

export interface BlobContent {
  info: BlobInfo;
  /** Set when the client may fetch the bytes elsewhere (presigned storage URL). */
  redirectUrl?: string;
  stream?: Readable;
  /** The whole body in memory, when it is small and cached (the stream then yields the same bytes). */
  bytes?: Buffer;
  /** The range served, when one was asked for. */
  range?: { start: number; end: number };
}

export interface OpenOptions {
  range?: ByteRange;
  /** Prefer a redirect URL when the storage offers one. */
  allowRedirect?: boolean;
}

/** A blob as garbage collection sees it. */
export interface BlobRecord {
  digest: Digest;
  size: number;
  /** Last upload, mount or reference (ms, Redis clock); undefined until GC first stamps it. */
  touched?: number;
}

/** One digest for `sweepBlobs`: unlink it from repositories, and delete its bytes when nothing references it. */
export interface BlobSweepItem {
  digest: Digest;
  unlinkFrom: string[];
  deleteData: boolean;
}

export interface BlobSweepResult {
  /** Blobs whose bytes were deleted. */
  deleted: BlobInfo[];
  /** Repository links removed. */
  unlinked: number;
  /** Digests left alone because a push touched them since `olderThan` or is writing them. */
  skipped: Digest[];
}

export interface UploadPurgeReport {
  sessions: number;
  bytes: number;
  multipartAborted: number;
}

/** Quota accounting hook: blob upload completion and manifest PUT call it before linking. */
export interface BlobQuota {
  /** Count `blob` against the namespace of `name` (once per namespace); DENIED when it would exceed the quota. */
  reserve(name: string, blob: BlobInfo): Promise<void>;
}
export const BLOB_QUOTA = Symbol('BlobQuota');

export interface BlobService {
  /** The blob if it is linked into repository `name`, else undefined. */
  stat(name: string, digest: Digest): Promise<BlobInfo | undefined>;
  /** Open a linked blob for reading; BLOB_UNKNOWN when it is not linked; RANGE_INVALID for a bad range. */
  open(name: string, digest: Digest, options?: OpenOptions): Promise<BlobContent>;
  startUpload(name: string): Promise<UploadStatus>;
  uploadStatus(name: string, id: string): Promise<UploadStatus>;
  /** Append a chunk at `range.start` (must equal the current offset). */
  appendChunk(name: string, id: string, body: Readable, range?: ByteRange, length?: number): Promise<UploadStatus>;
  /** Finish: optional last chunk, verify the digest, make the blob visible and link it. */
  completeUpload(name: string, id: string, digest: Digest, body?: Readable, length?: number): Promise<BlobInfo>;
  cancelUpload(name: string, id: string): Promise<void>;
  /** Link a blob from repository `from` into `name`; undefined when `from` does not have it. */
  mount(name: string, from: string, digest: Digest): Promise<BlobInfo | undefined>;
  /** Store a whole blob in one call (commits, loads); verifies `expected` when given. */
  putBlob(name: string, body: Readable, expected?: Digest, sizeHint?: number): Promise<BlobInfo>;
  /** Remove the blob's link from the repository (the bytes stay until GC). */
  unlink(name: string, digest: Digest): Promise<void>;
  /** Whether the bytes exist at all (any repository). */
  exists(digest: Digest): Promise<BlobInfo | undefined>;
  /** Rebuild the blob and link indexes from storage; returns how many blobs were found. */
  reindex(): Promise<number>;
  /**
   * Keep `bytes` content-addressed where blobs live, neither indexed as a blob nor linked: manifest
   * bytes, which distribution keeps in the blob tree and metadata indexes itself. A no-op when the
   * digest's bytes are already there. The caller holds the digest as a DigestGuard writer.
   */
  storeContent(digest: Digest, bytes: Buffer): Promise<void>;
  /** What storeContent (or an upload) kept for `digest`, or undefined (metadata's reindex reads manifests back). */
  readContent(digest: Digest): Promise<Buffer | undefined>;
}

/**
 * What garbage collection (libs/gc) needs of the blob service. Its own interface beside BlobService
 * so wrappers of BlobService (pull-through, test fakes) need not implement it; LayerStorage and
 * the BLOB_RPC client implement both, and BlobsModule provides the same instance under both tokens.
 */
export interface BlobGcService {
  /** One page of every blob in the index; pass the returned cursor until it is undefined. */
  listBlobs(cursor?: string): Promise<{ items: BlobRecord[]; cursor?: string }>;
  /** Digests linked into repository `name`. */
  listLinks(name: string): Promise<Digest[]>;
  /** Index first, then storage (batched): only digests not touched since `olderThan` and not being written. */
  sweepBlobs(items: BlobSweepItem[], options: { olderThan: number }): Promise<BlobSweepResult>;
  /**
   * Delete bytes kept by storeContent whose owner (a metadata manifest record) GC has purged: each
   * digest atomically against DigestGuard writers, and never the bytes of an indexed blob (its sweep
   * owns them). Returns the digests whose bytes went.
   */
  dropContent(digests: Digest[], options: { olderThan: number }): Promise<Digest[]>;
  /** Drop upload sessions (Redis state, storage folder) and multipart uploads started before `olderThan`. */
  purgeUploads(options: { olderThan: number; dryRun?: boolean }): Promise<UploadPurgeReport>;
}

export const BLOB_SERVICE = Symbol('BlobService');
export const BLOB_GC_SERVICE = Symbol('BlobGcService');
