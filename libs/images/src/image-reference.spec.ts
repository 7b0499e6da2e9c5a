import { parseReference, formatLocalReference, parseLocalReference } from '@stevedore/oci';
import { imageRefFromArchiveName, repositoryForArchiveName } from './image-reference';

describe('image references of this registry', () => {
  it('parses repository, tag and digest without Docker Hub defaults', () => {
    expect(parseLocalReference('music51555/bh:v0.2')).toEqual({ name: 'music51555/bh', tag: 'v0.2' });
    expect(parseLocalReference('busybox')).toEqual({ name: 'busybox' });
    expect(parseLocalReference('busybox', { defaultTag: true })).toEqual({ name: 'busybox', tag: 'latest' });
    const d = 'sha256:' + 'a'.repeat(64);
    expect(parseLocalReference(`a/b@${d}`)).toEqual({ name: 'a/b', digest: d });
    expect(parseLocalReference(`a/b:1@${d}`)).toEqual({ name: 'a/b', tag: '1', digest: d });
    expect(formatLocalReference(parseLocalReference(`a/b:1@${d}`))).toBe(`a/b:1@${d}`);
  });

  it('refuses what is not a reference', () => {
    expect(() => parseLocalReference('Upper/case')).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }));
    expect(() => parseLocalReference('a:bad tag')).toThrow(expect.objectContaining({ code: 'TAG_INVALID' }));
    expect(() => parseLocalReference('a@sha256:12')).toThrow(expect.objectContaining({ code: 'DIGEST_INVALID' }));
    expect(() => parseLocalReference('')).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }));
  });

  it('maps archive names to repositories so a save and load round-trips', () => {
    expect(imageRefFromArchiveName('music51555/bh:latest')).toEqual({ name: 'music51555/bh', tag: 'latest' });
    expect(imageRefFromArchiveName('busybox:1')).toEqual({ name: 'busybox', tag: '1' });
    expect(imageRefFromArchiveName('docker.io/library/busybox:1')).toEqual({ name: 'busybox', tag: '1' });
    expect(imageRefFromArchiveName('quay.io/x/y:2')).toEqual({ name: 'quay.io/x/y', tag: '2' });
    expect(imageRefFromArchiveName('example.com/team/app:v1')).toEqual({ name: 'example.com/team/app', tag: 'v1' });
    // A host with a port cannot be part of a repository name: the path is kept.
    expect(repositoryForArchiveName(parseReference('localhost:5000/app:1'))).toBe('app');
    expect(imageRefFromArchiveName('Not A Ref')).toBeUndefined();
  });
});
