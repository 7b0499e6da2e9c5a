import { historyEntries } from './manifest-store';

describe('historyEntries', () => {
  it('pairs each digest of a ZRANGE WITHSCORES reply with its time, in order', () => {
    expect(historyEntries(['sha256:b', '1000', 'sha256:a', '2500'])).toEqual([
      { digest: 'sha256:b', taggedAt: 1000 },
      { digest: 'sha256:a', taggedAt: 2500 },
    ]);
    expect(historyEntries([])).toEqual([]);
  });
});
