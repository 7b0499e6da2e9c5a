// unionfs errors as the API's typed errors: ENOENT is 404, EEXIST/ENOTEMPTY 409, the rest 400;
// an unsafe tar is already a 400 (UnsafeTarError is a RegistryError) that names the entry and reason.
import { RegistryError } from '@stevedore/oci';
import { UnionFsError } from '@stevedore/unionfs';

export function toRegistryError(e: unknown): unknown {
  if (e instanceof UnionFsError) {
    const code = e.code === 'ENOENT' ? 'NOT_FOUND' : e.code === 'EEXIST' || e.code === 'ENOTEMPTY' ? 'CONFLICT' : 'INVALID_REQUEST';
    return new RegistryError(code, e.message, { errno: e.code, path: `/${e.path}` });
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
