// Errors of file operations on a view or read-write layer, with POSIX-style codes so callers can map
// them to HTTP answers (ENOENT -> 404, EEXIST/ENOTEMPTY -> 409, the rest -> 400).

export type UnionFsErrorCode = 'ENOENT' | 'EEXIST' | 'ENOTDIR' | 'EISDIR' | 'ENOTEMPTY' | 'EINVAL' | 'EROFS';

export class UnionFsError extends Error {
  constructor(
    readonly code: UnionFsErrorCode,
    readonly path: string,
    detail: string,
  ) {
    super(`${code}: ${detail} ("/${path}")`);
    this.name = 'UnionFsError';
  }
}
