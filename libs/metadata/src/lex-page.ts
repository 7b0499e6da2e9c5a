// One page of a zset whose scores are all 0, in lexical order: how /v2/_catalog and /tags/list
// page (distribution's n and last). The catalog and the tag names are both kept this way.
import type Redis from 'ioredis';
import type { Page } from './metadata-service';

/** Without `n`, at most this many: a listing never asks Redis for an unbounded range. */
export const DEFAULT_PAGE_SIZE = 10_000;

/** Members after `last` (exclusive), at most `n`; `next` is set when more follow. */
export async function lexPage(redis: Redis, key: string, n?: number, last?: string): Promise<Page<string>> {
  const min = last ? `(${last}` : '-';
  if (n === 0) return { items: [] };
  const limit = n ?? DEFAULT_PAGE_SIZE;
  // One more than the page: whether it is there says whether there is a next page.
  const items = await redis.zrangebylex(key, min, '+', 'LIMIT', 0, limit + 1);
  if (items.length > limit) {
    items.length = limit;
    return { items, next: items[items.length - 1] };
  }
  return { items };
}
