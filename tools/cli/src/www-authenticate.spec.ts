import { parseChallenges } from './www-authenticate';

describe('WWW-Authenticate', () => {
  it('parses Bearer and Basic challenges', () => {
    expect(parseChallenges('Bearer realm="http://h/auth/token",service="stevedore",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'http://h/auth/token', service: 'stevedore', scope: 'repository:a/b:pull,push' } },
    ]);
    expect(parseChallenges('Basic realm="Stevedore"')).toEqual([{ scheme: 'basic', params: { realm: 'Stevedore' } }]);
    expect(parseChallenges('Bearer realm=http://x/t,service=s, Basic realm="r"').map((c) => c.scheme)).toEqual(['bearer', 'basic']);
    expect(parseChallenges(undefined)).toEqual([]);
  });
});
