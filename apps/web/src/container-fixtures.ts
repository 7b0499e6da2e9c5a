// Contract-shaped containers and commit jobs the component tests of the container pages share.
import type { CommitJob, Container, Entry } from '@stevedore/api-contract';
import { DIGEST, LAYER } from './fixtures';

export const CONTAINER_ID = 'f'.repeat(64);

export function container(over: Partial<Container> = {}): Container {
  return {
    id: CONTAINER_ID,
    name: 'web1',
    owner: 'alice',
    image: { reference: 'alice/busybox:v1', repository: 'alice/busybox', manifestDigest: DIGEST, configDigest: DIGEST, layers: [LAYER] },
    createdAt: '2026-12-02T10:00:00.000Z',
    state: 'running',
    pausedBy: [],
    generation: 1,
    upperEntries: 0,
    ...over,
  };
}

export function entry(path: string, type: Entry['type'], size = 0): Entry {
  return { path, type, mode: type === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: 0, size };
}

export function commitJob(over: Partial<CommitJob> = {}): CommitJob {
  return {
    id: 'job-1',
    kind: 'commit',
    state: 'waiting',
    progress: null,
    attempts: 0,
    createdAt: '2026-12-02T10:00:00.000Z',
    links: { self: '/api/v1/jobs/job-1', events: '/api/v1/jobs/job-1/events' },
    ...over,
  };
}

/** An event stream as the server writes it: `event:` and `data:` lines, a blank line after each. */
export const sse = (events: Array<[string, unknown]>) =>
  events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join(': ping\n\n');
