// Tags against a real Redis and both storage drivers: setting writes the index entry and current
// link before Redis, moves keep each digest once in the history, removal keeps the history and the
// index entries, times fall back to the link's, and reindex's restores never move history back.
import { STORAGE_KINDS, absent, code, useMetadataFixture, useRedisServer } from '../test/metadata-fixture';
import { metadataKeys, metadataPaths } from './metadata-layout';

jest.setTimeout(120_000);
const server = useRedisServer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const one = absent('1');
const two = absent('2');
const three = absent('3');

describe.each(STORAGE_KINDS)('TagRepository (%s)', (kind) => {
  const f = useMetadataFixture(server, kind, 'tagrepository');

  it('writes the index entry and the current link, then the tag, its time and its history', async () => {
    const before = Date.now();
    await f.tags.set('a/app', 'v1', one);
    expect((await f.storage.getContent(metadataPaths.tagCurrent('a/app', 'v1'))).toString()).toBe(one);
    expect((await f.storage.getContent(metadataPaths.tagIndexEntry('a/app', 'v1', one))).toString()).toBe(one);
    expect(await f.tags.current('a/app', 'v1')).toBe(one);
    expect(await f.tags.current('a/app', 'v2')).toBeUndefined();
    expect(await f.tags.current('b/app', 'v1')).toBeUndefined();
    const [entry] = await f.tags.history('a/app', 'v1');
    expect(entry.digest).toBe(one);
    expect(entry.taggedAt).toBeGreaterThanOrEqual(before);
    const taggings = await f.tags.taggings('a/app');
    expect(taggings.get(one)).toEqual([{ tag: 'v1', taggedAt: entry.taggedAt }]);
  });

  it('moves a tag, keeping each digest once in its history in the order it last named it', async () => {
    await f.tags.set('b/app', 'latest', one);
    await sleep(5);
    await f.tags.set('b/app', 'latest', two);
    await sleep(5);
    await f.tags.set('b/app', 'latest', one);
    await f.tags.set('b/app', 'stable', two);
    await f.tags.set('b/app', 'old', two);
    expect(await f.tags.current('b/app', 'latest')).toBe(one);
    const history = await f.tags.history('b/app', 'latest');
    expect(history.map((h) => h.digest)).toEqual([two, one]);
    expect(history[0].taggedAt).toBeLessThan(history[1].taggedAt);
    expect(await f.tags.tagsOf('b/app', two)).toEqual(['old', 'stable']);
    expect(await f.tags.tagsOf('b/app', three)).toEqual([]);
    expect(
      [...(await f.tags.taggings('b/app')).entries()]
        .map(([d, ts]) => [d, ts.map((t) => t.tag).sort()])
        .sort(([x], [y]) => (x < y ? -1 : 1)),
    ).toEqual([
      [one, ['latest']],
      [two, ['old', 'stable']],
    ]);
  });

  it('pages tag names lexically with n and last', async () => {
    expect(await f.tags.page('b/app')).toEqual({ items: ['latest', 'old', 'stable'] });
    const first = await f.tags.page('b/app', 2);
    expect(first).toEqual({ items: ['latest', 'old'], next: 'old' });
    expect(await f.tags.page('b/app', 2, first.next)).toEqual({ items: ['stable'] });
    expect(await f.tags.page('nothing/here')).toEqual({ items: [] });
  });

  it('removes a tag and its current link, keeping its history and index entries', async () => {
    await f.tags.set('c/app', 'gone', one);
    await f.tags.set('c/app', 'gone', two);
    await f.tags.remove('c/app', 'gone');
    expect(await f.tags.current('c/app', 'gone')).toBeUndefined();
    expect(await f.tags.page('c/app')).toEqual({ items: [] });
    expect((await f.tags.taggings('c/app')).size).toBe(0);
    expect(await f.storage.stat(metadataPaths.tagCurrent('c/app', 'gone'))).toBeUndefined();
    expect(await f.storage.stat(metadataPaths.tagIndexEntry('c/app', 'gone', one))).toBeDefined();
    expect(await f.storage.stat(metadataPaths.tagIndexEntry('c/app', 'gone', two))).toBeDefined();
    expect((await f.tags.history('c/app', 'gone')).map((h) => h.digest)).toEqual([one, two]);
    expect(await code(f.tags.remove('c/app', 'gone'))).toBe('MANIFEST_UNKNOWN');
  });

  it('falls back to the current link’s time for a tag set before tag times were recorded', async () => {
    await f.tags.set('d/app', 'v1', one);
    await f.redis.hdel(metadataKeys(f.keys).tagTimes('d/app'), 'v1');
    const st = await f.storage.stat(metadataPaths.tagCurrent('d/app', 'v1'));
    expect((await f.tags.taggings('d/app')).get(one)).toEqual([{ tag: 'v1', taggedAt: st!.modTime.getTime() }]);
  });

  it('restores tags and history for reindex, never moving history back', async () => {
    await f.tags.set('e/app', 'v1', one);
    expect(await f.tags.readCurrentLink('e/app', 'v1')).toBe(one);
    const [live] = await f.tags.history('e/app', 'v1');
    await f.tags.restoreHistory('e/app', 'v1', one, live.taggedAt - 10_000);
    await f.tags.restoreHistory('e/app', 'v1', two, 1000);
    expect(await f.tags.history('e/app', 'v1')).toEqual([
      { digest: two, taggedAt: 1000 },
      { digest: one, taggedAt: live.taggedAt },
    ]);
    await f.tags.restore('e/app', 'v2', two, 5000);
    expect(await f.tags.current('e/app', 'v2')).toBe(two);
    expect((await f.tags.taggings('e/app')).get(two)).toEqual([{ tag: 'v2', taggedAt: 5000 }]);
    expect((await f.tags.page('e/app')).items).toEqual(['v1', 'v2']);
  });
});
