// unionfs errors as the API's typed errors: ENOENT is 404, EEXIST/ENOTEMPTY 409, the rest 400;
// an unsafe tar is a 400 that names the entry and the reason.
import { RegistryError } from '@stevedore/oci';
import { UnionFsError, UnsafeTarError } from '@stevedore/unionfs';

export function toRegistryError(e: unknown): unknown {
  if (e instanceof UnionFsError) {
    const code = e.code === 'ENOENT' ? 'NOT_FOUND' : e.code === 'EEXIST' || e.code === 'ENOTEMPTY' ? 'CONFLICT' : 'INVALID_REQUEST';
    return new RegistryError(code, e.message, { errno: e.code, path: `/${e.path}` });
  }
  if (e instanceof UnsafeTarError) {
    return new RegistryError('INVALID_REQUEST', e.message, { reason: e.reason, path: e.path });
  }
  return e;
}

export async function mapErrors<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toRegistryError(e);
  }
}

/** A missing container; one the caller may not see answers exactly the same. */
export function containerNotFound(id: unknown): RegistryError {
  const shown = String(id).slice(0, 80);
  return new RegistryError('NOT_FOUND', `no such container: ${shown}`, { id: shown });
}
