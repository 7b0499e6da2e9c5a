import { parseChallenges, repositoryScope } from './www-authenticate';

describe('parseChallenges', () => {
  it('reads a Docker Hub bearer challenge', () => {
    const c = parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
    );
    expect(c).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
      },
    ]);
  });

  it('keeps commas inside quoted values (several actions in one scope)', () => {
    const [c] = parseChallenges(
      'Bearer realm="http://127.0.0.1:5000/auth/token",scope="repository:a/b:pull,push",error="insufficient_scope"',
    );
    expect(c.params.scope).toBe('repository:a/b:pull,push');
    expect(c.params.error).toBe('insufficient_scope');
  });

  it('reads Basic, unquoted values, odd case and spacing', () => {
    expect(parseChallenges('basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseChallenges('BEARER Realm=https://x/token , Service=reg')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://x/token', service: 'reg' } },
    ]);
  });

  it('splits several challenges in one header and across headers', () => {
    const c = parseChallenges(['Basic realm="r1", Bearer realm="https://t",service="s"', 'Negotiate']);
    expect(c.map((x) => x.scheme)).toEqual(['basic', 'bearer', 'negotiate']);
    expect(c[1].params).toEqual({ realm: 'https://t', service: 's' });
  });

  it('handles escaped quotes and empty input', () => {
    expect(parseChallenges('Bearer realm="a\\"b"')[0].params.realm).toBe('a"b');
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
  });

  it('builds repository scopes', () => {
    expect(repositoryScope('library/busybox', ['pull', 'push'])).toBe('repository:library/busybox:pull,push');
  });

  it('reads what the stevedore CLI meets (its own parser was this one twice)', () => {
    expect(parseChallenges('Bearer realm="http://h/auth/token",service="stevedore",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'http://h/auth/token', service: 'stevedore', scope: 'repository:a/b:pull,push' } },
    ]);
    expect(parseChallenges('Bearer realm=http://x/t,service=s, Basic realm="r"').map((c) => c.scheme)).toEqual(['bearer', 'basic']);
    expect(parseChallenges(undefined)).toEqual([]);
  });
});
