// REDIS_URL parsing (config.ts): examples of each form, what is refused and why, and properties
// over generated URLs (fast-check).
import fc from 'fast-check';
import { loadConfig, parseRedisUrl, redactRedisUrl, redisTarget, type RedisTarget } from './config';
import { redisConnectionOptions } from './redis';

describe('REDIS_URL', () => {
  it('parses one primary, with credentials, database and TLS', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6380')).toEqual({ mode: 'standalone', host: '127.0.0.1', port: 6380, db: 0, tls: false });
    expect(parseRedisUrl('rediss://u:p%40ss@redis.example.com/3')).toEqual({
      mode: 'standalone',
      host: 'redis.example.com',
      port: 6379,
      db: 3,
      username: 'u',
      password: 'p@ss',
      tls: true,
    });
    expect(parseRedisUrl('redis://:secret@[::1]:7000')).toMatchObject({ host: '::1', port: 7000, password: 'secret' });
    expect(parseRedisUrl('redis://:secret@[::1]:7000')).not.toHaveProperty('username');
  });

  it('parses Sentinel: the sentinels, the master name, db and the sentinels’ own credentials', () => {
    expect(
      parseRedisUrl('redis+sentinel://:pw@redis-0.redis:26379,redis-1.redis,10.0.0.3:26380/stevedore?db=2&sentinelPassword=s%26p'),
    ).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 'redis-0.redis', port: 26379 },
        { host: 'redis-1.redis', port: 26379 },
        { host: '10.0.0.3', port: 26380 },
      ],
      masterName: 'stevedore',
      db: 2,
      password: 'pw',
      sentinelPassword: 's&p',
      tls: false,
    });
  });

  it('parses cluster startup nodes, and accepts a cluster at start', () => {
    expect(parseRedisUrl('redis+cluster://a:7000,b:7001,c')).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: 'c', port: 6379 },
      ],
      tls: false,
    });
    expect(redisTarget('redis+cluster://a:7000,b:7001')).toMatchObject({ mode: 'cluster', nodes: [{ host: 'a' }, { host: 'b' }] });
    expect(loadConfig({ REDIS_URL: 'redis+cluster://a:7000,b:7001' }).REDIS_URL).toBe('redis+cluster://a:7000,b:7001');
    // A cluster has database 0 only: a path is still refused at start, with the reason.
    expect(() => loadConfig({ REDIS_URL: 'redis+cluster://a:7000/2' })).toThrow(/invalid configuration:\n {2}REDIS_URL: .*no database/);
  });

  it.each([
    ['http://x:6379', /is not redis/],
    ['redis://', /no host/],
    ['redis://a:1,b:2', /several hosts/],
    ['redis://a:0', /port must be 1-65535/],
    ['redis://a:65536', /port must be 1-65535/],
    ['redis://a:x', /port must be/],
    ['redis://a/x', /database "x"/],
    ['redis://a?family=6', /unknown parameter "family"/],
    ['redis+sentinel://a:26379', /needs the master name/],
    ['redis+sentinel://a:26379/m?db=x', /database "x"/],
    ['redis+sentinel://a:26379/m?sentinelPasword=x', /unknown parameter "sentinelPasword"/],
    ['redis+sentinel://a b:26379/m', /is not host\[:port\]/],
    ['redis+cluster://a:7000/1', /no database/],
    ['redis://u:%zz@a', /password is not percent-encoded/],
  ])('refuses %s', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(message);
    expect(() => loadConfig({ REDIS_URL: url })).toThrow(/invalid configuration:\n {2}REDIS_URL: /);
  });

  it('never shows a password in messages', () => {
    expect(redactRedisUrl('redis+sentinel://u:hunter2@a:26379,b/m?sentinelPassword=sp&db=1')).toBe(
      'redis+sentinel://u:***@a:26379,b/m?sentinelPassword=***&db=1',
    );
    expect(() => parseRedisUrl('nope://u:hunter2@a')).toThrow(/nope:\/\/u:\*\*\*@a/);
  });

  it('gives ioredis the sentinels and master name (every connection, BullMQ’s too, is built from these)', () => {
    expect(redisConnectionOptions('redis+sentinel://:pw@s1:26379,s2:26380/main?db=1')).toMatchObject({
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      name: 'main',
      password: 'pw',
      db: 1,
    });
    expect(redisConnectionOptions('redis://h:1/2')).toEqual({ host: 'h', port: 1, db: 2 });
  });

  describe('properties', () => {
    const host = fc.oneof(
      fc.ipV4(),
      fc.domain(),
      fc.ipV6().map((h) => `[${h}]`),
    );
    const node = fc.record({ host, port: fc.integer({ min: 1, max: 65535 }) });
    const secret = fc.string({ minLength: 1, maxLength: 20, unit: 'binary' });
    const auth = fc.record({ username: fc.option(secret, { nil: undefined }), password: fc.option(secret, { nil: undefined }) });
    const userinfo = (a: { username?: string; password?: string }): string =>
      a.username === undefined && a.password === undefined
        ? ''
        : `${encodeURIComponent(a.username ?? '')}${a.password === undefined ? '' : ':' + encodeURIComponent(a.password)}@`;
    const bare = (h: string): string => (h.startsWith('[') ? h.slice(1, -1) : h);
    const expectAuth = (t: RedisTarget, a: { username?: string; password?: string }): void => {
      expect(t.username).toBe(a.username || undefined);
      expect(t.password).toBe(a.password);
    };

    it('a sentinel URL built from any sentinels, master name and credentials parses back to them', () => {
      fc.assert(
        fc.property(
          fc.array(node, { minLength: 1, maxLength: 5 }),
          fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }).filter((s) => !s.includes('/')),
          auth,
          fc.integer({ min: 0, max: 15 }),
          fc.option(secret, { nil: undefined }),
          (nodes, name, a, db, sentinelPassword) => {
            const q = new URLSearchParams({ db: String(db), ...(sentinelPassword !== undefined ? { sentinelPassword } : {}) });
            const url = `redis+sentinel://${userinfo(a)}${nodes.map((n) => `${n.host}:${n.port}`).join(',')}/${encodeURIComponent(name)}?${q}`;
            const t = parseRedisUrl(url);
            if (t.mode !== 'sentinel') throw new Error(t.mode);
            expect(t.sentinels).toEqual(nodes.map((n) => ({ host: bare(n.host), port: n.port })));
            expect(t.masterName).toBe(name);
            expect(t.db).toBe(db);
            expect(t.sentinelPassword).toBe(sentinelPassword);
            expectAuth(t, a);
            if (a.password !== undefined && a.password.length > 3) {
              const secret = encodeURIComponent(a.password);
              const shown = redactRedisUrl(url);
              expect(shown).not.toContain(`:${secret}@`);
              // Nowhere else either, unless another part of the URL holds the same characters (seen in
              // CI: user 'call\u0000', password 'call'; the user name is shown, as it should be).
              const elsewhere = encodeURIComponent(a.username ?? '').includes(secret) || url.replace(userinfo(a), '').includes(secret);
              if (!elsewhere) expect(shown).not.toContain(secret);
            }
          },
        ),
      );
    });

    it('a cluster URL parses into its startup nodes, and is the target at start', () => {
      fc.assert(
        fc.property(fc.array(node, { minLength: 1, maxLength: 6 }), auth, (nodes, a) => {
          const url = `redis+cluster://${userinfo(a)}${nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
          const t = parseRedisUrl(url);
          if (t.mode !== 'cluster') throw new Error(t.mode);
          expect(t.nodes).toEqual(nodes.map((n) => ({ host: bare(n.host), port: n.port })));
          expectAuth(t, a);
          expect(redisTarget(url)).toEqual(t);
        }),
      );
    });

    it('any string either parses or fails with a message (never another kind of exception)', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string(),
            fc.webUrl(),
            fc.string().map((s) => `redis+sentinel://${s}`),
          ),
          (s) => {
            try {
              parseRedisUrl(s);
            } catch (e) {
              expect(e).toBeInstanceOf(Error);
              expect((e as Error).message.length).toBeGreaterThan(0);
            }
          },
        ),
      );
    });
  });
});
