import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { GcRun, User } from '@stevedore/api-contract';
import { aliceSession } from '../fixtures';
import { fakeServer } from '../fake-server';
import { renderApp } from '../render-app';
import { cellTexts } from '../test-table';

const adminSession = { ...aliceSession, user: 'root', admin: true };
const user = (name: string, extra: Partial<User> = {}): User => ({
  name,
  admin: false,
  disabled: false,
  robot: false,
  createdAt: '2026-12-01T09:00:00.000Z',
  ...extra,
});

const report = {
  dryRun: true,
  startedAt: '2026-12-02T10:00:00.000Z',
  durationMs: 1234,
  settings: { graceSeconds: 3600, untaggedMaxAgeSeconds: 86400, uploadMaxAgeSeconds: 86400 },
  repositories: 3,
  retention: { tagsDeleted: 2, tags: [] },
  manifests: { scanned: 10, deleted: 4, bytesFreed: 4000, digests: [], recordsPurged: 0 },
  blobs: { scanned: 20, deleted: 6, unlinked: 0, skipped: 0, bytesFreed: 12_000_000, digests: [] },
  uploads: { sessions: 1, bytesFreed: 0, multipartAborted: 0 },
  deleteBatches: 1,
  bytesFreed: 12_004_000,
};
const run = (id: string, dryRun: boolean, state: GcRun['state']): GcRun => ({
  id,
  kind: 'gc',
  state,
  progress: null,
  attempts: 0,
  createdAt: '2026-12-02T10:00:00.000Z',
  request: { dryRun },
  ...(state === 'completed' ? { result: { ...report, dryRun }, finishedAt: '2026-12-02T10:00:01.234Z' } : {}),
});

describe('administration', () => {
  it('lists users, creates one, disables another, and never offers to disable or remove yourself', async () => {
    const users = [user('root', { admin: true }), user('alice'), user('alice.ci', { robot: true, owner: 'alice' })];
    const s = fakeServer({
      getSession: () => ({ status: 200, body: adminSession }),
      listUsers: () => ({ status: 200, body: users }),
      createUser: (req) => {
        const b = req.body as { name: string; admin: boolean };
        users.push(user(b.name, { admin: b.admin }));
        return { status: 201, body: users[users.length - 1] };
      },
      updateUser: () => ({ status: 200, body: { ...users[1], disabled: true } }),
    });
    renderApp('/administration', s.fetch);
    await userEvent.click(await screen.findByRole('link', { name: 'Administration' }));
    const table = await screen.findByRole('table', { name: 'Users' });
    const names = () => cellTexts(screen.getByRole('table', { name: 'Users' })).map((r) => r[0]);
    // Robots are not users in this table.
    expect(names()).toEqual(['root', 'alice']);
    expect(within(table).getByRole('button', { name: 'Disable root' }).hasAttribute('disabled')).toBe(true);
    expect(within(table).getByRole('button', { name: 'Remove root' }).hasAttribute('disabled')).toBe(true);

    await userEvent.click(within(table).getByRole('button', { name: 'Disable alice' }));
    await screen.findByText('Disabled alice.');
    expect(s.sent.find((r) => r.method === 'PATCH')).toMatchObject({ url: '/api/v1/users/alice', body: { disabled: true } });

    await userEvent.type(screen.getByRole('textbox', { name: 'User name' }), 'carol');
    await userEvent.type(screen.getByLabelText('Password'), 'correct horse battery');
    await userEvent.click(screen.getByRole('checkbox', { name: 'Administrator' }));
    await userEvent.click(screen.getByRole('button', { name: 'Create the user' }));
    await screen.findByText('Created carol.');
    await waitFor(() => expect(names()).toEqual(['root', 'alice', 'carol']));
    const created = s.sent.find((r) => r.method === 'POST' && r.url === '/api/v1/users');
    expect(created?.body).toEqual({ name: 'carol', password: 'correct horse battery', admin: true });
    expect(created?.headers['x-csrf-token']).toBe(adminSession.csrfToken);
  });

  it('starts a GC dry run and shows what each run freed', async () => {
    const runs: GcRun[] = [run('g1', false, 'completed')];
    const s = fakeServer({
      getSession: () => ({ status: 200, body: adminSession }),
      listGcRuns: () => ({ status: 200, body: { runs } }),
      runGc: (req) => {
        runs.unshift(run('g2', (req.body as { dryRun: boolean }).dryRun, 'completed'));
        return { status: 202, body: { ...runs[0], state: 'waiting', result: undefined } };
      },
    });
    renderApp('/administration/gc', s.fetch);
    await userEvent.click(await screen.findByRole('button', { name: 'Dry run' }));
    await screen.findByText(/^Started a dry run/);
    const table = await screen.findByRole('table', { name: /Garbage collection runs/ });
    await waitFor(() => expect(within(table).getAllByRole('row')).toHaveLength(3));
    const rows = cellTexts(table);
    expect(rows[0].slice(1)).toEqual([
      'dry run',
      'completed',
      '12 MB (would free)',
      '2 tags, 4 manifests, 6 blobs, 1 uploads (would delete)',
      '1.2 s',
    ]);
    expect(rows[1].slice(1, 4)).toEqual(['run', 'completed', '12 MB']);
    expect(s.sent.find((r) => r.method === 'POST')).toMatchObject({ url: '/api/v1/gc', body: { dryRun: true } });
    expect(screen.getByRole('link', { name: 'Queue dashboard' }).getAttribute('href')).toBe('/admin/queues');
  });

  it("adds an upstream, sets a retention rule and a quota, and shows a new robot's secret once", async () => {
    const s = fakeServer({
      getSession: () => ({ status: 200, body: adminSession }),
      listUpstreams: () => ({ status: 200, body: { upstreams: [] } }),
      createUpstream: () => ({
        status: 201,
        body: {
          id: 'hub',
          url: 'https://registry-1.docker.io',
          prefixes: ['library'],
          default: false,
          hasPassword: false,
          createdAt: '2026-12-02T10:00:00.000Z',
          updatedAt: '2026-12-02T10:00:00.000Z',
        },
      }),
      listRetention: () => ({ status: 200, body: { rules: [] } }),
      putRetention: (req) => ({ status: 200, body: req.body }),
      listQuotas: () => ({ status: 200, body: { quotas: [{ namespace: 'alice', usedBytes: 2_500_000 }] } }),
      putQuota: () => ({ status: 200, body: { namespace: 'alice', limitBytes: 5e8, usedBytes: 2_500_000 } }),
      listRobots: () => ({ status: 200, body: { robots: [] } }),
      createRobot: () => ({
        status: 201,
        body: {
          ...user('root.ci', { robot: true, owner: 'root' }),
          robotScopes: [{ repository: 'alice/*', actions: ['pull'] }],
          secret: 's3cr3t-once',
        },
      }),
    });
    renderApp('/administration/upstreams', s.fetch);
    await userEvent.type(await screen.findByRole('textbox', { name: 'ID (optional)' }), 'hub');
    await userEvent.type(screen.getByRole('textbox', { name: 'URL' }), 'https://registry-1.docker.io');
    await userEvent.type(screen.getByRole('textbox', { name: 'Repository prefixes it serves' }), 'library');
    await userEvent.click(screen.getByRole('button', { name: 'Add the upstream' }));
    await screen.findByText('Added the upstream https://registry-1.docker.io.');
    expect(s.sent.find((r) => r.method === 'POST')?.body).toEqual({
      id: 'hub',
      url: 'https://registry-1.docker.io',
      prefixes: ['library'],
      default: false,
    });

    await userEvent.click(screen.getByRole('link', { name: 'Retention' }));
    await userEvent.type(await screen.findByRole('textbox', { name: 'Repositories' }), 'alice/*');
    await userEvent.type(screen.getByRole('spinbutton', { name: 'Keep the newest tags (count)' }), '5');
    await userEvent.click(screen.getByRole('button', { name: 'Save the rule' }));
    await screen.findByText('Saved the retention rule of alice/*.');
    expect(s.sent.find((r) => r.method === 'PUT')?.body).toEqual({ repository: 'alice/*', keepLast: 5 });

    await userEvent.click(screen.getByRole('link', { name: 'Quotas' }));
    const quotas = await screen.findByRole('table', { name: 'Namespaces: used and limit' });
    expect(
      within(quotas)
        .getAllByRole('cell')
        .map((c) => c.textContent),
    ).toEqual(['alice', '2.5 MB', 'none', '']);
    await userEvent.type(screen.getByRole('textbox', { name: 'Namespace' }), 'alice');
    await userEvent.type(screen.getByRole('spinbutton', { name: 'Limit (MB)' }), '500');
    await userEvent.click(screen.getByRole('button', { name: 'Set the limit' }));
    await screen.findByText('Set the quota of alice to 500 MB.');
    expect(s.sent.find((r) => r.method === 'PUT' && r.url === '/api/v1/quotas/alice')?.body).toEqual({ limitBytes: 500_000_000 });

    await userEvent.click(screen.getByRole('link', { name: 'Robots' }));
    await userEvent.type(await screen.findByRole('textbox', { name: 'Robot name' }), 'root.ci');
    await userEvent.type(screen.getByRole('textbox', { name: 'Repository' }), 'alice/*');
    await userEvent.click(screen.getByRole('button', { name: 'Create the robot' }));
    expect((await screen.findByText('s3cr3t-once')).tagName).toBe('CODE');
    expect(s.sent.find((r) => r.method === 'POST' && r.url === '/api/v1/robots')?.body).toEqual({
      name: 'root.ci',
      scopes: [{ repository: 'alice/*', actions: ['pull'] }],
    });
  });

  it('is hidden from a user who is not an admin, and its URL says so without asking the server for anything', async () => {
    const s = fakeServer({ getSession: () => ({ status: 200, body: aliceSession }) });
    renderApp('/administration/users', s.fetch);
    expect((await screen.findByRole('alert')).textContent).toBe('Only administrators may see this page.');
    expect(screen.queryByRole('link', { name: 'Administration' })).toBeNull();
    expect(screen.getByRole('link', { name: 'Jobs' })).toBeTruthy();
    expect(s.sent.map((r) => r.url)).toEqual(['/api/v1/session']);
  });
});
