// Lexical paging of a score-0 zset against a real Redis: n and last as distribution's catalog and
// tag listing take them, and `next` exactly when more follow.
import type Redis from 'ioredis';
import { useRedisServer } from '../test/metadata-fixture';
import { DEFAULT_PAGE_SIZE, lexPage } from './lex-page';

const server = useRedisServer();
let redis: Redis;
const key = 'lex-page:names';
beforeAll(async () => {
  redis = server.client();
  // Inserted out of order: the page order is lexical, not insertion order.
  await redis.zadd(key, 0, 'c', 0, 'a', 0, 'e', 0, 'b', 0, 'd');
});

describe('lexPage', () => {
  it('without n returns every member, lexically, and no next', async () => {
    expect(await lexPage(redis, key)).toEqual({ items: ['a', 'b', 'c', 'd', 'e'] });
  });

  it('pages by n, resuming after last, with next until the end', async () => {
    const first = await lexPage(redis, key, 2);
    expect(first).toEqual({ items: ['a', 'b'], next: 'b' });
    const second = await lexPage(redis, key, 2, first.next);
    expect(second).toEqual({ items: ['c', 'd'], next: 'd' });
    expect(await lexPage(redis, key, 2, second.next)).toEqual({ items: ['e'] });
  });

  it('gives no next when the page ends exactly at the last member', async () => {
    expect(await lexPage(redis, key, 5)).toEqual({ items: ['a', 'b', 'c', 'd', 'e'] });
    expect(await lexPage(redis, key, 3, 'b')).toEqual({ items: ['c', 'd', 'e'] });
  });

  it('answers n=0 with nothing, and a last past every member or not a member by position', async () => {
    expect(await lexPage(redis, key, 0)).toEqual({ items: [] });
    expect(await lexPage(redis, key, 10, 'e')).toEqual({ items: [] });
    expect(await lexPage(redis, key, 10, 'bb')).toEqual({ items: ['c', 'd', 'e'] });
    expect(await lexPage(redis, 'lex-page:none')).toEqual({ items: [] });
  });

  it('caps a page without n', async () => {
    const big = 'lex-page:big';
    const members: Array<number | string> = [];
    for (let i = 0; i <= DEFAULT_PAGE_SIZE; i++) members.push(0, `m${String(i).padStart(6, '0')}`);
    await redis.zadd(big, ...members);
    const page = await lexPage(redis, big);
    expect(page.items).toHaveLength(DEFAULT_PAGE_SIZE);
    expect(page.next).toBe(page.items[DEFAULT_PAGE_SIZE - 1]);
    expect(await lexPage(redis, big, undefined, page.next)).toEqual({ items: [`m${String(DEFAULT_PAGE_SIZE).padStart(6, '0')}`] });
  });
});
