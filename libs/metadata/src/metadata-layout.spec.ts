// The metadata layout: every link path parses back to what made it, other objects under
// repositories/ (layer storage's) parse to nothing, and the paths are distribution's.
import fc from 'fast-check';
import type { Digest } from '@stevedore/oci';
import { keySlot, RedisKeys } from '@stevedore/platform';
import { metadataKeys, metadataPaths, parseMetadataLink } from './metadata-layout';

const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/).filter((s) => s.length > 0 && s.length < 20);
const name = fc.array(component, { minLength: 1, maxLength: 3 }).map((a) => a.join('/'));
const digest = fc.oneof(
  fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}` as Digest),
  fc.stringMatching(/^[a-f0-9]{128}$/).map((h) => `sha512:${h}` as Digest),
);
const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,20}$/);

describe('metadata layout', () => {
  it('link paths parse back to what made them', () => {
    fc.assert(
      fc.property(name, digest, tag, (n, d, t) => {
        expect(parseMetadataLink(metadataPaths.revisionLink(n, d))).toEqual({ kind: 'revision', name: n, digest: d });
        expect(parseMetadataLink(metadataPaths.tagCurrent(n, t))).toEqual({ kind: 'tag', name: n, tag: t });
        expect(parseMetadataLink(metadataPaths.tagIndexEntry(n, t, d))).toEqual({ kind: 'tagIndex', name: n, tag: t, digest: d });
        expect(metadataPaths.revisionLink(n, d).startsWith(metadataPaths.repositoriesRoot)).toBe(true);
        // Reindex lists the whole repositories/ tree: layer storage's objects there are none of metadata's.
        const [alg, hex] = d.split(':');
        for (const p of [`repositories/${n}/_layers/${alg}/${hex}/link`, `repositories/${n}/_uploads/${t}/chunks/0000000000000000`]) {
          expect(parseMetadataLink(p)).toBeUndefined();
        }
      }),
    );
  });

  it("lays links out as distribution does and leaves layer storage's objects alone", () => {
    const hex = 'ab'.repeat(32);
    const d = `sha256:${hex}` as Digest;
    expect(metadataPaths.revisionLink('a/b', d)).toBe(`repositories/a/b/_manifests/revisions/sha256/${hex}/link`);
    expect(metadataPaths.tagCurrent('a/b', 'v1')).toBe('repositories/a/b/_manifests/tags/v1/current/link');
    expect(metadataPaths.tagIndexEntry('a/b', 'v1', d)).toBe(`repositories/a/b/_manifests/tags/v1/index/sha256/${hex}/link`);
    expect(parseMetadataLink(`repositories/a/b/_layers/sha256/${hex}/link`)).toBeUndefined();
    expect(parseMetadataLink('repositories/a/b/_uploads/id/chunks/0000000000000000')).toBeUndefined();
    expect(parseMetadataLink(`blobs/sha256/ab/${hex}/data`)).toBeUndefined();
  });

  it('keeps per-repository keys in the repository hash slot and the SCAN pattern on the manifest family', () => {
    const k = metadataKeys(new RedisKeys('p'));
    expect(k.tags('a/b')).toBe('p:repo:{a/b}:tags');
    expect(k.tagHistory('a/b', 'v1')).toBe('p:repo:{a/b}:taghist:v1');
    expect(k.manifest('sha256:x')).toBe('p:manifest:sha256:x');
    expect(k.manifestPattern).toBe('p:manifest:*');
    expect(k.manifestDigestOf(k.manifest('sha256:x'))).toBe('sha256:x');
    expect(k.imageIds()).toBe('p:imageids');
    expect(k.imageHolders('sha256:i')).toBe('p:imageid:sha256:i');
  });

  it('on a Redis Cluster, tags a digest (its record with its guard keys) and the image-ID index (one slot)', () => {
    const keys = new RedisKeys('p', true);
    const k = metadataKeys(keys);
    expect(k.manifest('sha256:x')).toBe('p:manifest:{sha256:x}');
    expect(k.manifestDigestOf(k.manifest('sha256:x'))).toBe('sha256:x');
    expect(keySlot(k.manifest('sha256:x'))).toBe(keySlot(keys.key('gc', 'touched', keys.tag('sha256:x'))));
    expect(keySlot(k.imageIds())).toBe(keySlot(k.imageHolders('sha256:i')));
    expect(keySlot(k.tags('a/b'))).toBe(keySlot(k.referrers('a/b', 'sha256:s')));
  });
});
