import fc from 'fast-check';
import { matchV2, requiredAccess } from './routes';

const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, { size: 'small' }).filter((s) => s.length > 0 && s.length < 30);
const repoName = fc.array(component, { minLength: 1, maxLength: 4 }).map((a) => a.join('/'));
const hex = fc.stringMatching(/^[a-f0-9]{64}$/);

describe('matchV2', () => {
  it('matches every endpoint of the spec, with multi-segment names', () => {
    fc.assert(
      fc.property(repoName, hex, (name, h) => {
        const d = `sha256:${h}`;
        expect(matchV2(`/v2/${name}/tags/list`)).toEqual({ kind: 'tags', name });
        expect(matchV2(`/v2/${name}/manifests/latest`)).toEqual({ kind: 'manifest', name, reference: 'latest' });
        expect(matchV2(`/v2/${name}/manifests/${d}`)).toEqual({ kind: 'manifest', name, reference: d });
        expect(matchV2(`/v2/${name}/blobs/${d}`)).toEqual({ kind: 'blob', name, digest: d });
        expect(matchV2(`/v2/${name}/blobs/uploads/`)).toEqual({ kind: 'uploads', name });
        expect(matchV2(`/v2/${name}/blobs/uploads/abc-123`)).toEqual({ kind: 'upload', name, id: 'abc-123' });
        expect(matchV2(`/v2/${name}/referrers/${d}`)).toEqual({ kind: 'referrers', name, digest: d });
      }),
    );
  });

  it('knows the base and catalog endpoints and nothing else', () => {
    expect(matchV2('/v2/')).toEqual({ kind: 'base' });
    expect(matchV2('/v2')).toEqual({ kind: 'base' });
    expect(matchV2('/v2/_catalog')).toEqual({ kind: 'catalog' });
    expect(matchV2('/v2/foo')).toBeUndefined();
    expect(matchV2('/v2/foo/bar/baz')).toBeUndefined();
  });

  it('asks pull for reads, push for writes, delete for deletes', () => {
    const m = { kind: 'manifest', name: 'a/b', reference: 't' } as const;
    expect(requiredAccess(m, 'GET').actions).toEqual(['pull']);
    expect(requiredAccess(m, 'HEAD').actions).toEqual(['pull']);
    expect(requiredAccess(m, 'PUT').actions).toEqual(['pull', 'push']);
    expect(requiredAccess(m, 'DELETE').actions).toEqual(['delete']);
    expect(requiredAccess({ kind: 'catalog' }, 'GET')).toEqual({ type: 'registry', name: 'catalog', actions: ['*'] });
  });
});
