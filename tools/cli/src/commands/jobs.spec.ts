import type { JobSummary } from '@stevedore/api-contract';
import { DEFAULT_JOBS_TABLE, formatJobRows, jobRowView, parseJobFilters } from './jobs';

const now = Date.parse('2026-12-04T12:00:00Z');
const job = (over: Partial<JobSummary>): JobSummary => ({
  id: 'a1',
  kind: 'commit',
  queue: 'commit',
  state: 'completed',
  description: 'commit c1 -> app:v1',
  createdAt: '2026-12-04T11:58:00Z',
  links: { self: '/api/v1/jobs/a1' },
  ...over,
});

describe('jobs ls formatting', () => {
  const rows = [
    jobRowView(job({ owner: 'alice' }), now),
    jobRowView(
      job({ id: 'batch-77', kind: 'batch', state: 'failed', description: 'batch of 3 commits', error: { code: 'DENIED', message: 'no' } }),
      now,
    ),
  ];

  it('prints a table with upper-case headers, columns aligned as docker ps aligns them', () => {
    expect(formatJobRows(DEFAULT_JOBS_TABLE, rows)).toBe(
      [
        'JOB ID     KIND     STATE       OWNER   CREATED         DESCRIPTION',
        'a1         commit   completed   alice   2 minutes ago   commit c1 -> app:v1',
        'batch-77   batch    failed              2 minutes ago   batch of 3 commits',
        '',
      ].join('\n'),
    );
  });

  it('takes a table template with written-out tabs, one line per row, or json', () => {
    expect(formatJobRows('table {{.ID}}\\t{{.Error}}', rows)).toBe('JOB ID     ERROR\na1\nbatch-77   no (DENIED)\n');
    expect(formatJobRows('{{.ID}} {{.State}}', rows)).toBe('a1 completed\nbatch-77 failed\n');
    const lines = formatJobRows('json', rows).trim().split('\n');
    expect(JSON.parse(lines[1])).toMatchObject({ ID: 'batch-77', Kind: 'batch', State: 'failed', Owner: '' });
  });

  it('reads --filter state=, kind= and owner=, refusing what the server would not know', () => {
    expect(parseJobFilters(['state=failed,active', 'kind=gc', 'state=waiting', 'owner=bob'])).toEqual({
      state: ['failed', 'active', 'waiting'],
      kind: ['gc'],
      owner: 'bob',
    });
    expect(() => parseJobFilters(['state=done'])).toThrow(/unknown job state "done"/);
    expect(() => parseJobFilters(['colour=red'])).toThrow(/unknown filter "colour"/);
    expect(() => parseJobFilters(['kind='])).toThrow(/has no value/);
  });
});
