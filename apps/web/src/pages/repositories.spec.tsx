import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { aliceSession } from '../fixtures';
import { fakeServer } from '../fake-server';
import { renderApp } from '../render-app';
import { cellTexts } from '../test-table';

const row = (name: string, pulls: number) => ({ name, lastPush: '2026-12-01T09:00:00.000Z', pulls, tags: 1 });

describe('repositories page', () => {
  it('searches and sorts on the server, and reads more pages by cursor', async () => {
    const s = fakeServer({
      getSession: () => ({ status: 200, body: aliceSession }),
      listRepositories: (req) => {
        const u = new URL(req.url, 'http://x');
        if (u.searchParams.get('cursor') === '2') return { status: 200, body: { items: [row('alice/zeta', 0)] } };
        if (u.searchParams.get('q') === 'web') return { status: 200, body: { items: [row('alice/web', 3)] } };
        return { status: 200, body: { items: [row('alice/busybox', 9), row('alice/web', 3)], next: '2' } };
      },
    });
    renderApp('/repositories', s.fetch);
    await screen.findByRole('link', { name: 'alice/busybox' });
    const cells = () => cellTexts(screen.getByRole('table'));
    expect(cells()).toEqual([
      ['alice/busybox', '1', '2026-12-01 09:00:00 UTC', '9'],
      ['alice/web', '1', '2026-12-01 09:00:00 UTC', '3'],
    ]);
    await userEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await screen.findByRole('link', { name: 'alice/zeta' });
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();

    await userEvent.type(screen.getByLabelText('Search by name'), 'web');
    await waitFor(() => expect(cells().map((c) => c[0])).toEqual(['alice/web']));
    expect(s.sent.map((r) => r.url)).toContain('/api/v1/repositories?q=web&sort=name&n=50');

    await userEvent.click(screen.getByRole('button', { name: /Sort by/ }));
    await userEvent.click(await screen.findByRole('option', { name: 'Pulls' }));
    await waitFor(() => expect(s.sent.map((r) => r.url)).toContain('/api/v1/repositories?q=web&sort=pulls&n=50'));
  });
});
