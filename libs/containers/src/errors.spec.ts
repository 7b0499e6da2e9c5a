import { RegistryError } from '@stevedore/oci';
import { UnionFsError, UnsafeTarError } from '@stevedore/unionfs';
import { mapErrors, toRegistryError } from './errors';

describe('toRegistryError', () => {
  it.each([
    ['ENOENT', 'NOT_FOUND', 404],
    ['EEXIST', 'CONFLICT', 409],
    ['ENOTEMPTY', 'CONFLICT', 409],
    ['EISDIR', 'INVALID_REQUEST', 400],
    ['EINVAL', 'INVALID_REQUEST', 400],
  ] as const)('maps %s to %s', (errno, code, status) => {
    const e = toRegistryError(new UnionFsError(errno, 'a/b', 'x')) as RegistryError;
    expect(e.code).toBe(code);
    expect(e.status).toBe(status);
    expect(e.detail).toEqual({ errno, path: '/a/b' });
  });

  it('names the reason of an unsafe tar', async () => {
    await expect(mapErrors(() => Promise.reject(new UnsafeTarError('parent-traversal', '../x', 'no')))).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
      detail: { reason: 'parent-traversal', path: '../x' },
    });
  });

  it('leaves other errors alone', () => {
    const e = new Error('x');
    expect(toRegistryError(e)).toBe(e);
  });
});
