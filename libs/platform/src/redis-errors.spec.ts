// Which Redis errors answer 503 (retry) and which are bugs (500): a cluster's outage and failover
// errors are "unavailable"; a cross-slot command is a bug in Stevedore, never retried.
import { isRedisUnavailable, keySlot, RedisKeys } from './redis';

describe('isRedisUnavailable', () => {
  it.each([
    'CLUSTERDOWN The cluster is down',
    'CLUSTERDOWN Hash slot not served',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'MOVED 3999 127.0.0.1:6381',
    'ASK 3999 127.0.0.1:6381',
    'Failed to refresh slots cache.',
    'None of startup nodes is available',
    'Too many Cluster redirections. Last error: Error: Connection is closed.',
    "Cluster isn't ready and enableOfflineQueue options is false",
    'Connection is closed.',
    'Command timed out',
    "READONLY You can't write against a read only replica.",
  ])('"%s" is unavailable (503)', (message) => {
    expect(isRedisUnavailable(new Error(message))).toBe(true);
  });

  it.each([
    "CROSSSLOT Keys in request don't hash to the same slot",
    'All the keys in a pipeline command should belong to the same slot',
    'WRONGTYPE Operation against a key holding the wrong kind of value',
    'ERR syntax error',
  ])('"%s" is not (a bug, 500)', (message) => {
    expect(isRedisUnavailable(new Error(message))).toBe(false);
  });
});

describe('keySlot and RedisKeys.tag', () => {
  it('gives the slots Redis documents, by hash tag when there is one', () => {
    // cluster-spec.md: CRC16("123456789") = 0x31C3, so slot 12739.
    expect(keySlot('123456789')).toBe(0x31c3 % 16384);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
  });

  it('tags only on a cluster: one Redis keeps the key names existing deployments have', () => {
    expect(new RedisKeys('p').key('blob', new RedisKeys('p').tag('sha256:x'))).toBe('p:blob:sha256:x');
    const c = new RedisKeys('p', true);
    expect(c.key('blob', c.tag('sha256:x'))).toBe('p:blob:{sha256:x}');
    expect(c.untag('{sha256:x}')).toBe('sha256:x');
    expect(keySlot(c.key('blob', c.tag('sha256:x')))).toBe(keySlot(c.key('gc', 'touched', c.tag('sha256:x'))));
  });
});
