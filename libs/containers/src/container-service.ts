// The containers domain's interface: what the management API and the commit worker need.
import type { Readable } from 'node:stream';
import type { Digest } from '@stevedore/oci';
import type { Change, ContainerSnapshot, ContainerView, Entry, FileOp, FileOptions, TarMode } from './container';

/** An entry of an image's union filesystem and where it comes from (MergedView.origin). */
export type BrowsedEntry = Entry & { layer: number | null; shadows: number[] };

/** A change with what the path is afterwards (none for a deletion). */
export type SizedChange = Change & { type?: Entry['type']; size?: number };

export interface ImageBrowse {
  repository: string;
  manifestDigest: Digest;
  /** The image's layers, bottom first: `layer` and `shadows` index into it. */
  layers: Digest[];
  entry: BrowsedEntry;
  /** A directory's children as the merged view lists them (none for other types). */
  children: BrowsedEntry[];
}

export interface CreateContainerOptions {
  image: string;
  name?: string;
  /** Recorded on the container: who may see and change it (with admins). */
  owner?: string;
}

export interface UploadOptions {
  /** Device files in the archive (admins only; an overlay whiteout is not one). */
  allowDevices?: boolean;
}

export interface ContainerCollectOptions {
  /** Redis-clock ms: bytes and indexes stamped since then are kept (the GC run's grace cutoff). */
  olderThan: number;
  /** Temporary files older than this (ms) are a dead put's. */
  tmpOlderThan: number;
  dryRun?: boolean;
}

export interface ContainerCollectReport {
  containers: number;
  layerIndexes: { scanned: number; deleted: number; rebuilt: number };
  content: { scanned: number; deleted: number; skipped: number; bytesFreed: number };
  tmpFiles: number;
  /** What each owner's read-write layers hold (namespace -> digest -> bytes), for the quota recount. */
  usage: Record<string, Record<string, number>>;
  /** Contents no container or index refers to any more (removed now or later): no owner pays for them. */
  unreferenced: string[];
}

/** What libs/gc asks of containers: collect the contents no container needs any more. */
export interface ContainerGcService {
  collect(options: ContainerCollectOptions): Promise<ContainerCollectReport>;
}

export interface ContainerService extends ContainerGcService {
  create(options: CreateContainerOptions): Promise<ContainerView>;
  list(): Promise<ContainerView[]>;
  inspect(id: string): Promise<ContainerView>;
  remove(id: string): Promise<void>;

  writeFile(id: string, path: string, body: Readable, options?: FileOptions): Promise<Entry>;
  apply(id: string, op: FileOp): Promise<Entry | undefined>;
  uploadTar(id: string, body: Readable, mode: TarMode, options?: UploadOptions): Promise<{ entries: number }>;

  stat(id: string, path: string): Promise<Entry>;
  readFile(id: string, path: string): Promise<{ entry: Entry; stream: Readable }>;
  listDir(id: string, path: string): Promise<Entry[]>;
  diff(id: string): Promise<Change[]>;

  /** A path of an image's merged filesystem, with where it and each child comes from (the image's layers, bottom first). */
  browseImage(reference: string, path: string): Promise<ImageBrowse>;
  /**
   * Docker's change list (A/C/D, with sizes) of one layer of an image against the layers below it,
   * or (with `from`) of the image against another image: what `from` would need to become it.
   */
  imageChanges(reference: string, options: { layer?: number; from?: string }): Promise<SizedChange[]>;
  /**
   * One file of an image's merged filesystem: its entry (with the layer it comes from) and its bytes,
   * read from the content the layer's index points at (never the layer blob itself). NOT_FOUND for a
   * missing or whited-out path, INVALID_REQUEST for a directory or another non-file.
   */
  readImageFile(reference: string, path: string): Promise<{ entry: BrowsedEntry; stream: Readable }>;

  pause(id: string): Promise<ContainerView>;
  unpause(id: string): Promise<ContainerView>;

  /** Pause for commit job `holder` (if asked) and return the read-write layer as it is now. */
  snapshot(id: string, holder?: string): Promise<ContainerSnapshot>;
  /** Release a commit's pause; the container is running again unless someone else holds it. */
  release(id: string, holder: string): Promise<void>;

  /**
   * The bytes of a file content a snapshot names (commit workers read them here: the contents are
   * this service's keyspace). `readContent` for small files in one call, `openContent` streams.
   */
  readContent(digest: Digest): Promise<Buffer>;
  openContent(digest: Digest): Promise<{ stream: Readable }>;
}

export const CONTAINER_SERVICE = Symbol('ContainerService');
