// Raised when a tar would write outside the root, contradict itself, is not a tar, or exceeds a
// limit. It is a RegistryError (400, or 413 for sizes), so every route that reads a tar answers the
// same 4xx with the entry and the reason, whichever handler it went through.
import { RegistryError } from '@stevedore/oci';

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
  | 'invalid-whiteout'
  | 'device-file'
  | 'not-a-tar'
  | 'empty-archive'
  | 'expansion';

const TOO_LARGE: ReadonlySet<UnsafeTarReason> = new Set(['entry-too-large', 'layer-too-large', 'too-many-entries', 'expansion']);

export class UnsafeTarError extends RegistryError {
  constructor(
    readonly reason: UnsafeTarReason,
    readonly path: string,
    detail: string,
  ) {
    super(
      TOO_LARGE.has(reason) ? 'PAYLOAD_TOO_LARGE' : 'INVALID_REQUEST',
      path ? `unsafe tar entry "${path.slice(0, 300)}" (${reason}): ${detail}` : `refused tar (${reason}): ${detail}`,
      { reason, path: path.slice(0, 300) },
      TOO_LARGE.has(reason) ? 413 : 400,
    );
    this.name = 'UnsafeTarError';
  }
}
