import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { CSRF_HEADER, type TagHistory } from '@stevedore/api-contract';
import { error, fakeServer } from '../fake-server';
import { aliceSession } from '../fixtures';
import { renderApp } from '../render-app';
import { cellTexts } from '../test-table';

const d = (c: string) => `sha256:${c.repeat(64)}`;

function history(current: string): TagHistory {
  const entries = [
    { digest: d('c'), taggedAt: '2026-12-03T10:00:00.000Z', available: true },
    { digest: d('b'), taggedAt: '2026-12-02T10:00:00.000Z', available: true },
    { digest: d('a'), taggedAt: '2026-12-01T10:00:00.000Z', available: false },
  ].map((e) => ({ ...e, current: e.digest === current }));
  return { repository: 'alice/app', tag: 'v1', current, entries };
}

describe('tag history page', () => {
  it('lists what the tag named, newest first, and restores an earlier image with the anti-CSRF token', async () => {
    let current = d('c');
    const s = fakeServer({
      getSession: () => ({ status: 200, body: aliceSession }),
      tagHistory: () => ({ status: 200, body: history(current) }),
      restoreTag: (req) => {
        current = (req.body as { digest: string }).digest;
        return { status: 201, body: { source: `alice/app@${current}`, target: 'alice/app:v1', digest: current } };
      },
    });
    renderApp('/history/alice/app:v1', s.fetch);
    const table = await screen.findByRole('table', { name: 'Images alice/app:v1 has named, newest first' });
    const cells = () => cellTexts(table).map((r) => r.slice(0, 3));
    expect(cells()).toEqual([
      ['2026-12-03 10:00:00 UTC', 'sha256:cccccccccccc', 'current'],
      ['2026-12-02 10:00:00 UTC', 'sha256:bbbbbbbbbbbb', 'earlier'],
      ['2026-12-01 10:00:00 UTC', 'sha256:aaaaaaaaaaaa', 'deleted'],
    ]);
    // Only an earlier image still in the repository can be restored.
    expect(screen.getAllByRole('button', { name: /^Restore/ })).toHaveLength(1);
    await userEvent.click(screen.getByRole('button', { name: 'Restore sha256:bbbbbbbbbbbb' }));
    expect((await screen.findByRole('status')).textContent).toBe('alice/app:v1 now names sha256:bbbbbbbbbbbb.');
    const post = s.sent.find((r) => r.method === 'POST')!;
    expect(post.url).toBe('/api/v1/images/tag-history/restore');
    expect(post.body).toEqual({ ref: 'alice/app:v1', digest: d('b') });
    expect(post.headers[CSRF_HEADER]).toBe(aliceSession.csrfToken);
    await waitFor(() => expect(cells()[1][2]).toBe('current'));
  });

  it('offers no restore to an anonymous visitor and says when the tag has no history', async () => {
    const s = fakeServer({
      getSession: () => error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' }),
      tagHistory: (req) =>
        req.url.includes('nosuch')
          ? error(404, 'MANIFEST_UNKNOWN', 'tag alice/app:nosuch has no history')
          : { status: 200, body: history(d('c')) },
    });
    renderApp('/history/alice/app:v1', s.fetch);
    await screen.findByRole('table');
    expect(screen.queryByRole('button', { name: /^Restore/ })).toBeNull();
    renderApp('/history/alice/app:nosuch', s.fetch);
    expect((await screen.findByRole('alert')).textContent).toBe('This tag has no history.');
  });
});
