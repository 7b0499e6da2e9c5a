import fc from 'fast-check';
import {
  RegistryError,
  assertRepositoryName,
  familiarName,
  familiarString,
  fullName,
  isValidRepositoryName,
  isValidTag,
  parseReference,
  referenceString,
  repositoryNameOk,
  tagOk,
  withTag,
  type Reference,
  manifestReference,
  referenceOf,
} from './index';

const D = 'sha256:' + 'ab'.repeat(32);

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return RegistryError.is(e) ? e.code : 'other';
  }
  return undefined;
}

describe('parseReference', () => {
  it.each<[string, Reference, string]>([
    ['busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' }, 'busybox:latest'],
    ['busybox:1.36', { registry: 'docker.io', repository: 'library/busybox', tag: '1.36' }, 'busybox:1.36'],
    ['docker.io/library/busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' }, 'busybox:latest'],
    ['index.docker.io/user/app', { registry: 'docker.io', repository: 'user/app', tag: 'latest' }, 'user/app:latest'],
    ['user/app:v1', { registry: 'docker.io', repository: 'user/app', tag: 'v1' }, 'user/app:v1'],
    ['quay.io/x/y', { registry: 'quay.io', repository: 'x/y', tag: 'latest' }, 'quay.io/x/y:latest'],
    ['localhost:5000/a', { registry: 'localhost:5000', repository: 'a', tag: 'latest' }, 'localhost:5000/a:latest'],
    ['localhost/a', { registry: 'localhost', repository: 'a', tag: 'latest' }, 'localhost/a:latest'],
    // Docker reads a first component without '.', ':' or 'localhost' as a path, not a host.
    [`host/a/b:tag@${D}`, { registry: 'docker.io', repository: 'host/a/b', tag: 'tag', digest: D as never }, `host/a/b:tag@${D}`],
    [
      `host.lan:443/a/b:tag@${D}`,
      { registry: 'host.lan:443', repository: 'a/b', tag: 'tag', digest: D as never },
      `host.lan:443/a/b:tag@${D}`,
    ],
    ['docker.io/my.org/app', { registry: 'docker.io', repository: 'my.org/app', tag: 'latest' }, 'docker.io/my.org/app:latest'],
    [`busybox@${D}`, { registry: 'docker.io', repository: 'library/busybox', digest: D as never }, `busybox@${D}`],
    ['docker.io/library/a/b', { registry: 'docker.io', repository: 'library/a/b', tag: 'latest' }, 'library/a/b:latest'],
    ['[::1]:5000/a', { registry: '[::1]:5000', repository: 'a', tag: 'latest' }, '[::1]:5000/a:latest'],
    ['Host.Example/a', { registry: 'Host.Example', repository: 'a', tag: 'latest' }, 'Host.Example/a:latest'],
  ])('%s', (input, expected, familiar) => {
    const r = parseReference(input);
    expect(r).toEqual(expected);
    expect(familiarString(r)).toBe(familiar);
    expect(parseReference(referenceString(r))).toEqual(r);
  });

  it('can leave the tag off and use another default registry', () => {
    expect(parseReference('a/b', { defaultTag: false, defaultRegistry: 'registry.local:5000' })).toEqual({
      registry: 'registry.local:5000',
      repository: 'a/b',
    });
    expect(fullName(parseReference('busybox'))).toBe('docker.io/library/busybox');
    expect(familiarName(parseReference('quay.io/library/x'))).toBe('quay.io/library/x');
    expect(withTag(parseReference(`a@${D}`), 'v2')).toEqual({ registry: 'docker.io', repository: 'library/a', tag: 'v2' });
  });

  it.each([
    ['', 'NAME_INVALID'],
    ['Busybox', 'NAME_INVALID'],
    ['UPPER/case', 'NAME_INVALID'], // uppercase first component is a registry; `case` is fine but...
    ['a//b', 'NAME_INVALID'],
    ['a/', 'NAME_INVALID'],
    ['-a', 'NAME_INVALID'],
    ['a:', 'TAG_INVALID'],
    ['a:-x', 'TAG_INVALID'],
    ['a:' + 'x'.repeat(129), 'TAG_INVALID'],
    ['a@sha256:abc', 'DIGEST_INVALID'],
    ['a'.repeat(64).replace(/a/g, 'f'), 'NAME_INVALID'],
    ['ho_st:5000/a', 'NAME_INVALID'],
    ['example.com/' + 'a'.repeat(250), 'NAME_INVALID'],
  ])('rejects %j with %s', (input, expected) => {
    if (input === 'UPPER/case') {
      expect(parseReference(input).registry).toBe('UPPER');
      return;
    }
    expect(code(() => parseReference(input))).toBe(expected);
  });

  it('validators throw typed errors and return true when valid', () => {
    expect(isValidRepositoryName('a/b-c/d__e.f')).toBe(true);
    expect(isValidTag('v1.0_rc-1')).toBe(true);
    expect(code(() => isValidRepositoryName('A'))).toBe('NAME_INVALID');
    expect(code(() => isValidRepositoryName(''))).toBe('NAME_INVALID');
    expect(code(() => isValidRepositoryName('a'.repeat(256)))).toBe('NAME_INVALID');
    expect(code(() => assertRepositoryName('a/../b'))).toBe('NAME_INVALID');
    expect(code(() => isValidTag('.x'))).toBe('TAG_INVALID');
    expect(repositoryNameOk('a/b')).toBe(true);
    expect(repositoryNameOk('a/B')).toBe(false);
    expect(tagOk('latest')).toBe(true);
    expect(tagOk('')).toBe(false);
  });
});

describe('reference round trip (property)', () => {
  const alnum = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split('')), minLength: 1, maxLength: 8 });
  const sep = fc.constantFrom('.', '_', '__', '-', '--');
  const component = fc
    .tuple(alnum, fc.array(fc.tuple(sep, alnum), { maxLength: 2 }))
    .map(([a, rest]) => a + rest.map(([s, b]) => s + b).join(''));
  const repository = fc.array(component, { minLength: 1, maxLength: 3 }).map((c) => c.join('/'));
  const host = fc.oneof(
    fc.constant('docker.io'),
    fc.constant('localhost'),
    fc.tuple(alnum, alnum).map(([a, b]) => `${a}.${b}`),
    fc.tuple(alnum, fc.integer({ min: 1, max: 65535 })).map(([a, p]) => `${a}:${p}`),
  );
  const tag = fc.string({ unit: fc.constantFrom(...'abcXYZ019_.-'.split('')), minLength: 1, maxLength: 20 }).filter((t) => /^\w/.test(t));
  const digest = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => 'sha256:' + Buffer.from(b).toString('hex'));

  it('parse(referenceString(r)) and parse(familiarString(r)) give r back', () => {
    fc.assert(
      fc.property(host, repository, fc.option(tag, { nil: undefined }), fc.option(digest, { nil: undefined }), (h, repo, t, d) => {
        const input = `${h}/${repo}${t ? ':' + t : ''}${d ? '@' + d : ''}`;
        const r = parseReference(input);
        expect(parseReference(referenceString(r))).toEqual(r);
        expect(parseReference(familiarString(r))).toEqual(r);
        expect(r.tag).toBe(t ?? (d ? undefined : 'latest'));
        expect(r.digest).toBe(d);
      }),
    );
  });
});

describe('manifestReference', () => {
  it('types the URL reference once: a digest when it has a colon, else a tag', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(manifestReference('team/app', d)).toEqual({ name: 'team/app', digest: d });
    expect(manifestReference('team/app', 'v1.2')).toEqual({ name: 'team/app', tag: 'v1.2' });
    expect(() => manifestReference('team/app', 'sha256:zz')).toThrow(expect.objectContaining({ code: 'DIGEST_INVALID' }));
    expect(() => manifestReference('team/app', '-bad')).toThrow(expect.objectContaining({ code: 'TAG_INVALID' }));
    expect(referenceOf({ name: 'x', tag: 't', digest: d as never })).toBe(d);
    expect(() => referenceOf({ name: 'x' })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });
});
