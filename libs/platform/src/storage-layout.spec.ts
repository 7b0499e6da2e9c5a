import fc from 'fast-check';
import type { Digest } from '@stevedore/oci';
import { StorageLayout, parseLinkKey } from './storage-layout';
import { loadConfig } from './config';

const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/).filter((s) => s.length > 0 && s.length < 20);
const name = fc.array(component, { minLength: 1, maxLength: 3 }).map((a) => a.join('/'));
const digest = fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}` as Digest);
const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,20}$/);

describe('storage layout', () => {
  it('link keys parse back to what made them', () => {
    fc.assert(
      fc.property(name, digest, tag, (n, d, t) => {
        expect(parseLinkKey(StorageLayout.revisionLink(n, d))).toEqual({ kind: 'revision', name: n, digest: d });
        expect(parseLinkKey(StorageLayout.tagCurrent(n, t))).toEqual({ kind: 'tag', name: n, tag: t });
        expect(parseLinkKey(StorageLayout.tagIndexEntry(n, t, d))).toEqual({ kind: 'tagIndex', name: n, tag: t, digest: d });
      }),
    );
  });
});

describe('configuration', () => {
  it('defaults to all-in-one on 127.0.0.1:5000 with filesystem storage', () => {
    const c = loadConfig({});
    expect(c.STEVEDORE_TARGET).toBe('all');
    expect(c.publicUrl).toBe('http://127.0.0.1:5000');
    expect(c.STEVEDORE_STORAGE).toBe('filesystem');
  });

  it('names every bad variable', () => {
    expect(() => loadConfig({ PORT: 'x', STEVEDORE_TARGET: 'nope' })).toThrow(/PORT[\s\S]*STEVEDORE_TARGET|STEVEDORE_TARGET[\s\S]*PORT/);
    expect(() => loadConfig({ STEVEDORE_STORAGE: 's3' })).toThrow(/S3_ENDPOINT/);
  });
});
