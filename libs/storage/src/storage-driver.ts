// The storage driver: the one small interface every backend implements (modelled on distribution's
// registry/storage/driver.StorageDriver). Paths are '/'-separated keys without a leading slash, the
// same on S3 and on the filesystem, so a bucket and a directory tree hold identical layouts.
import type { Readable } from 'node:stream';

export interface FileInfo {
  path: string;
  size: number;
  modTime: Date;
}

export interface ReadRange {
  /** First byte to read (default 0). */
  offset?: number;
  /** Number of bytes to read from offset (default: to the end). */
  length?: number;
}

export interface MultipartPart {
  partNumber: number;
  etag: string;
  size: number;
}

export interface MultipartUploadInfo {
  path: string;
  uploadId: string;
  initiated: Date;
}

export interface PresignOptions {
  method: 'GET' | 'HEAD';
  expirySeconds: number;
}

export interface StorageDriver {
  /** 'filesystem' | 's3': for logs and metrics. */
  readonly name: string;

  /** Size and modification time of an object, or undefined when there is none at `path`. */
  stat(path: string): Promise<FileInfo | undefined>;
  /** Whole small object (links, manifests); throws PathNotFoundError when missing. */
  getContent(path: string): Promise<Buffer>;
  /** Write a small object atomically: readers see the old content or the new, never a part. */
  putContent(path: string, content: Buffer | string): Promise<void>;
  /** Stream an object, optionally a byte range; throws PathNotFoundError when missing. */
  reader(path: string, range?: ReadRange): Promise<Readable>;
  /**
   * Stream `source` into `path`. The object becomes visible only once every byte is durable
   * (filesystem: temp file + fsync + rename; S3: single PUT or completed multipart).
   * `sizeHint` lets S3 pick a part size. Returns the bytes written.
   */
  writeStream(path: string, source: Readable, sizeHint?: number): Promise<number>;
  /** Keys of every object under `prefix` (recursive), in no particular order. */
  list(prefix: string): AsyncIterable<FileInfo>;
  /** Delete one object; a missing object is not an error. */
  delete(path: string): Promise<void>;
  /** Delete many objects in as few calls as the backend allows (S3: 1,000 keys a call). */
  deleteMany(paths: string[]): Promise<void>;
  /** Delete every object under `prefix`. */
  deletePrefix(prefix: string): Promise<void>;
  /** Move an object (server-side where possible); the destination appears atomically. */
  move(from: string, to: string): Promise<void>;
  /** Copy an object server-side where possible. */
  copy(from: string, to: string): Promise<void>;
  /**
   * Join `sources` in order into `to`, server-side where the backend can (S3: UploadPartCopy when every
   * source but the last holds at least `minPartSize` bytes), else streamed; `to` appears atomically.
   */
  concat(sources: string[], to: string): Promise<void>;
  /**
   * Write `source` into `path` from byte `offset` on and cut off whatever lay beyond, durable on return
   * (offset 0 creates the object). Only backends that can write in place have it (filesystem), so a
   * resumable upload appends its chunks to one file instead of keeping one object per chunk and
   * joining them at the end. Unlike the other writes it is not atomic: for objects nobody reads yet.
   * Throws PathNotFoundError when `offset` > 0 and the object is missing or shorter than `offset`.
   * With `durable: false` the bytes may sit in the page cache of the machine `volatileScope` names
   * until `sync(path)`: a process killed meanwhile loses nothing, a machine that goes down may.
   */
  writeAt?(path: string, offset: number, source: Readable, options?: { durable?: boolean }): Promise<number>;
  /** Make an object's bytes durable (what `writeAt` with `durable: false` left in the page cache). */
  sync?(path: string): Promise<void>;
  /**
   * Names the cache that holds writes not yet synced, so a caller can tell later whether they may
   * have been lost: the machine's boot id (a new one means the page cache of the last boot is gone).
   * Undefined where it cannot be told; then callers write durably.
   */
  readonly volatileScope?: string;
  /**
   * Write `source` to a temporary object beside `path`, durable, then run `check` (given the bytes
   * written; it may throw, and then the temporary object goes and `path` is untouched), and only then
   * put it in place atomically. Only backends where that costs a rename have it (filesystem): a
   * verified upload is then written once, beside its final place, and renamed.
   */
  writeChecked?(path: string, source: Readable, check: (bytes: number) => Promise<void>): Promise<number>;
  /** A URL a client may fetch the object from directly (S3 presigned), or undefined when unsupported. */
  presign(path: string, options: PresignOptions): Promise<string | undefined>;

  // Multipart: resumable uploads write parts as they arrive and join them at the end.
  createMultipart(path: string): Promise<string>;
  putPart(path: string, uploadId: string, partNumber: number, source: Readable, size: number): Promise<MultipartPart>;
  /** Join parts in order into `path`; the object becomes visible atomically. */
  completeMultipart(path: string, uploadId: string, parts: MultipartPart[]): Promise<void>;
  abortMultipart(path: string, uploadId: string): Promise<void>;
  /** Multipart uploads in progress under `prefix` (for purging abandoned uploads). */
  listMultipart(prefix: string): AsyncIterable<MultipartUploadInfo>;
  /** Smallest size of every part but the last (S3: 5 MiB; filesystem: 1). */
  readonly minPartSize: number;

  /** Release what the driver holds open (S3: its connection pool); call on shutdown. */
  close?(): Promise<void>;
}

/** Thrown by drivers when an object does not exist. */
export class PathNotFoundError extends Error {
  constructor(readonly path: string) {
    super(`path not found: ${path}`);
    this.name = 'PathNotFoundError';
  }
}

/** Thrown by drivers for a key that could escape the store ('..', absolute, empty segments). */
export class InvalidPathError extends Error {
  constructor(readonly path: string) {
    super(`invalid storage path: ${path}`);
    this.name = 'InvalidPathError';
  }
}
