// Raised when a layer tar would write outside the root, contradict itself or exceed a limit.

export type UnsafeTarReason =
  | 'absolute-path'
  | 'parent-traversal'
  | 'symlink-escape'
  | 'hardlink-escape'
  | 'through-symlink'
  | 'duplicate-entry'
  | 'entry-too-large'
  | 'layer-too-large'
  | 'too-many-entries'
  | 'unsupported-type'
  | 'invalid-whiteout';

export class UnsafeTarError extends Error {
  constructor(
    readonly reason: UnsafeTarReason,
    readonly path: string,
    detail: string,
  ) {
    super(`unsafe layer tar entry "${path}" (${reason}): ${detail}`);
    this.name = 'UnsafeTarError';
  }
}
