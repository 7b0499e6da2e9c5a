import { describeJob, jobLink, pageOf, type JobRow } from './job-list';

const row = (id: string, timestamp: number, queue: JobRow['summary']['queue'] = 'commit'): JobRow => ({
  summary: {
    id,
    kind: queue === 'commit' ? 'commit' : queue,
    queue,
    state: 'completed',
    description: '',
    createdAt: new Date(timestamp).toISOString(),
    links: { self: '' },
  },
  repositories: [],
  timestamp,
});

describe('the job list', () => {
  it('says what each kind of job does, and whose it is', () => {
    expect(
      describeJob('commit', {
        kind: 'commit',
        spec: { container: 'c1' },
        target: { repository: 'team/app', tag: 'v1' },
        image: { repository: 'base' },
        owner: 'alice',
      }),
    ).toEqual({ kind: 'commit', description: 'commit c1 -> team/app:v1', owner: 'alice', repositories: ['base', 'team/app'] });
    expect(describeJob('commit', { kind: 'batch', count: 2, children: [{ reference: 'a:1' }, { reference: 'a:2' }] })).toEqual({
      kind: 'batch',
      description: 'batch of 2 commits',
      repositories: ['a'],
    });
    expect(describeJob('export', { references: ['a:1', 'b:2'], owner: 'bob' }).description).toBe('save a:1 b:2');
    expect(describeJob('import', { repository: 'loaded' }).description).toBe('load into loaded');
    expect(describeJob('replicate', { source: { name: 'a', tag: '1' }, target: { upstream: 'hub', name: 'x/a' }, rule: 'r1' })).toEqual({
      kind: 'replicate',
      description: 'push a:1 -> hub/x/a (rule r1)',
      repositories: [],
    });
    expect(describeJob('gc', { dryRun: true, scheduled: true }).description).toBe('gc (dry run, scheduled)');
    // A payload of an unexpected shape still gives a row.
    expect(describeJob('commit', null).description).toBe('commit ? -> ?:latest');
    expect(jobLink('gc', '7')).toBe('/api/v1/gc/runs/7');
    expect(jobLink('batch', 'batch-1')).toBe('/api/v1/jobs/batch-1');
  });

  it('pages newest first without skipping or repeating rows of the same millisecond', () => {
    const rows = [row('c', 300), row('a', 200), row('b', 200), row('1', 200, 'gc'), row('z', 100)];
    const first = pageOf(rows, 2);
    expect(first.items.map((i) => i.id)).toEqual(['c', 'a']);
    const second = pageOf(rows, 2, first.next);
    expect(second.items.map((i) => i.id)).toEqual(['b', '1']);
    const third = pageOf(rows, 2, second.next);
    expect(third).toEqual({ items: [rows[4].summary] });
    // Ids of repeatable jobs carry colons; the cursor takes them.
    const scheduled = [row('repeat:gc-scheduled:1', 500, 'gc'), row('repeat:gc-scheduled:2', 500, 'gc'), ...rows];
    const page = pageOf(scheduled, 1);
    expect(pageOf(scheduled, 1, page.next).items.map((i) => i.id)).toEqual(['repeat:gc-scheduled:2']);
  });
});
