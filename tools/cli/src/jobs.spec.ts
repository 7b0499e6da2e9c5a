import { progressNumbers, SseParser, waitForJob } from './jobs';
import type { JobLike } from './jobs';

describe('jobs', () => {
  it('parses server-sent events across chunks', () => {
    const p = new SseParser();
    expect(p.feed('event: progress\ndata: {"a"')).toEqual([]);
    expect(p.feed(':1}\n\n: keepalive\n\nevent: completed\r\ndata: {"state":"completed"}\r\n\r\n')).toEqual([
      { event: 'progress', data: '{"a":1}' },
      { event: 'completed', data: '{"state":"completed"}' },
    ]);
    expect(p.feed('data: a\ndata: b\nid: 7\n\n')).toEqual([{ event: 'message', data: 'a\nb', id: '7' }]);
  });

  it('reads progress in its several shapes', () => {
    expect(progressNumbers({ phase: 'writing', bytes: 5, totalBytes: 10, percent: 50 })).toEqual({
      done: 5,
      total: 10,
      phase: 'writing',
      bytes: true,
    });
    expect(progressNumbers({ phase: 'blobs', bytes: { done: 3, total: 9 } } as never)).toEqual({
      done: 3,
      total: 9,
      phase: 'blobs',
      bytes: true,
    });
    expect(progressNumbers(40)).toEqual({ done: 40, total: 100, bytes: false });
    expect(progressNumbers(null)).toEqual({ done: 0, bytes: false });
  });

  it('polls until completed and reports progress', async () => {
    const states: Array<JobLike & { id: string }> = [
      { id: 'j', state: 'waiting', progress: null },
      { id: 'j', state: 'active', progress: { bytes: 1, totalBytes: 2 } },
      { id: 'j', state: 'completed', progress: { bytes: 2, totalBytes: 2 }, result: { id: 'sha256:x' } },
    ];
    const seen: number[] = [];
    const final = await waitForJob({
      status: async () => states.shift()!,
      what: 'x',
      intervalMs: 1,
      progress: { update: (d) => seen.push(d), stop: () => undefined },
    });
    expect(final.result).toEqual({ id: 'sha256:x' });
    expect(seen).toEqual([0, 1, 2]);
  });

  it('a failed job becomes its error', async () => {
    await expect(
      waitForJob({
        status: async () => ({ id: 'j', state: 'failed', error: { code: 'NOT_FOUND', message: 'container bh not found' } }),
        what: 'commit of bh',
        intervalMs: 1,
      }),
    ).rejects.toMatchObject({ message: 'commit of bh failed: container bh not found', code: 'NOT_FOUND' });
  });
});
