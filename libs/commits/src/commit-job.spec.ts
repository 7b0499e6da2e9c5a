import { makeEntry } from '@stevedore/unionfs';
import { CommitSpecSchema, JOB_ID_RE, batchJobId, commitJobId, commitTime, type CommitJobData } from './commit-job';

const base = (): Pick<CommitJobData, 'spec' | 'target' | 'image' | 'entries'> => ({
  spec: CommitSpecSchema.parse({
    container: 'c'.repeat(64),
    reference: 'busy_httpd:v0.2',
    author: 'alex',
    changes: ['CMD ["/bin/httpd"]'],
  }),
  target: { repository: 'busy_httpd', tag: 'v0.2' },
  image: {
    reference: 'busybox',
    repository: 'library/busybox',
    manifestDigest: 'sha256:1' as never,
    configDigest: 'sha256:2' as never,
    layers: [],
  },
  entries: [makeEntry('home/html/index.html', 'file', { mtime: 5 })],
});

describe('commitJobId', () => {
  it('is the same for the same container state and options', () => {
    expect(commitJobId(base())).toBe(commitJobId(base()));
    expect(commitJobId(base())).toMatch(JOB_ID_RE);
  });

  it.each([
    ['the read-write layer', (d: ReturnType<typeof base>) => (d.entries[0].mtime = 6)],
    ['the tag', (d: ReturnType<typeof base>) => (d.target.tag = 'v0.3')],
    ['the author', (d: ReturnType<typeof base>) => (d.spec.author = 'someone')],
    ['the changes', (d: ReturnType<typeof base>) => (d.spec.changes = [])],
    ['pause', (d: ReturnType<typeof base>) => (d.spec.pause = false)],
    ['the image', (d: ReturnType<typeof base>) => (d.image.manifestDigest = 'sha256:3' as never)],
  ])('changes with %s', (_what, change) => {
    const d = base();
    change(d);
    expect(commitJobId(d)).not.toBe(commitJobId(base()));
  });
});

describe('defaults and helpers', () => {
  it('pauses by default, as docker commit does', () => {
    expect(CommitSpecSchema.parse({ container: 'x', reference: 'y' })).toMatchObject({ pause: true, changes: [] });
  });
  it('keeps whole seconds for created', () => {
    expect(commitTime(1_700_000_000_999)).toBe('2023-11-14T22:13:20.000Z');
  });
  it('names a batch by its children', () => {
    expect(batchJobId(['a', 'b'])).toBe(batchJobId(['a', 'b']));
    expect(batchJobId(['a', 'b'])).not.toBe(batchJobId(['b', 'a']));
    expect(batchJobId(['a'])).toMatch(JOB_ID_RE);
  });
});
