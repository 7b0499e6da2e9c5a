import { matchesPattern, targetRepository, type ReplicationRule } from './replication-rules';

describe('replication rule patterns', () => {
  it.each([
    ['team/**', 'team/app', 'v1', true],
    ['team/**', 'team/a/b', 'latest', true],
    ['team/**', 'other/app', 'v1', false],
    ['team/*', 'team/a/b', 'v1', false],
    ['team/*', 'team/app', 'anything', true],
    ['library/*:v*', 'library/busybox', 'v1.2', true],
    ['library/*:v*', 'library/busybox', 'latest', false],
    ['app:latest', 'app', 'latest', true],
    ['app:latest', 'app', 'latest2', false],
    ['app?', 'app1', 'x', true],
    ['a.b/c', 'aXb/c', 'x', false],
  ])('%s matches %s:%s -> %s', (pattern, name, tag, want) => {
    expect(matchesPattern(pattern, name, tag)).toBe(want);
  });

  it('fills {name} in the target repository', () => {
    const rule = { target: { upstream: 'u', repository: 'backup/{name}' } } as ReplicationRule;
    expect(targetRepository(rule, 'team/app')).toBe('backup/team/app');
  });
});
