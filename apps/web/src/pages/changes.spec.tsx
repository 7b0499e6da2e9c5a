import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { error, fakeServer } from '../fake-server';
import { renderApp } from '../render-app';
import { cellTexts } from '../test-table';

describe('changes page', () => {
  it("shows a layer's changeset as A/C/D with sizes, and compares the image with another", async () => {
    const s = fakeServer({
      getSession: () => error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' }),
      imageChanges: (req) =>
        new URL(req.url, 'http://x').searchParams.get('from')
          ? { status: 200, body: { changes: [] } }
          : {
              status: 200,
              body: {
                changes: [
                  { path: '/etc', kind: 'C', type: 'directory', size: 0 },
                  { path: '/etc/hosts', kind: 'D' },
                  { path: '/etc/motd', kind: 'C', type: 'file', size: 17 },
                ],
              },
            },
    });
    renderApp('/changes/alice/busybox:v2?layer=1', s.fetch);
    expect(await screen.findByRole('heading', { level: 1, name: 'Layer 2 of alice/busybox:v2' })).toBeTruthy();
    expect(cellTexts(screen.getByRole('table'))).toEqual([
      ['C', '/etc', 'directory', '—'],
      ['D', '/etc/hosts', '—', '—'],
      ['C', '/etc/motd', 'file', '17 B'],
    ]);
    expect(s.sent.map((r) => r.url)).toContain('/api/v1/images/changes?ref=alice%2Fbusybox%3Av2&layer=1');

    await userEvent.type(screen.getByLabelText('Compare with another image'), 'alice/busybox:v1');
    await userEvent.click(screen.getByRole('button', { name: 'Compare' }));
    expect(await screen.findByText('No changes.')).toBeTruthy();
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('alice/busybox:v2 against alice/busybox:v1');
  });
});
