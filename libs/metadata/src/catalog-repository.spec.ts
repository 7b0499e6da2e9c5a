// The catalog against a real Redis: a repository enters with the MULTI that indexes its first
// manifest, once however often, and pages lexically with n and last.
import type Redis from 'ioredis';
import { RedisKeys } from '@stevedore/platform';
import { useRedisServer } from '../test/metadata-fixture';
import { CatalogRepository } from './catalog-repository';

const server = useRedisServer();
let redis: Redis;
let catalog: CatalogRepository;
beforeAll(() => {
  redis = server.client();
  catalog = new CatalogRepository(redis, new RedisKeys('catalog-repository'));
});

describe('CatalogRepository', () => {
  it('adds names within the caller’s MULTI and only when it runs', async () => {
    const m = redis.multi();
    catalog.queueAdd(m, 'team/app');
    expect(await catalog.has('team/app')).toBe(false);
    await m.exec();
    expect(await catalog.has('team/app')).toBe(true);
    expect(await catalog.has('team/other')).toBe(false);
  });

  it('keeps each name once and pages lexically with n and last', async () => {
    const m = redis.multi();
    for (const name of ['b/app', 'a/app', 'team/app', 'c/app', 'a/app']) catalog.queueAdd(m, name);
    await m.exec();
    expect(await catalog.page()).toEqual({ items: ['a/app', 'b/app', 'c/app', 'team/app'] });
    const first = await catalog.page(3);
    expect(first).toEqual({ items: ['a/app', 'b/app', 'c/app'], next: 'c/app' });
    expect(await catalog.page(3, first.next)).toEqual({ items: ['team/app'] });
    expect(await catalog.page(0)).toEqual({ items: [] });
  });
});
