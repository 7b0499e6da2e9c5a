import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { CSRF_HEADER } from '@stevedore/api-contract';
import { error, fakeServer } from '../fake-server';
import { DIGEST, aliceSession, history, inspect } from '../fixtures';
import { renderApp } from '../render-app';

describe("image page's actions", () => {
  it('offers the owner Create container (to the form, image filled in) and Untag', async () => {
    const s = fakeServer({
      getSession: () => ({ status: 200, body: aliceSession }),
      inspectImage: () => ({ status: 200, body: inspect }),
      imageHistory: () => ({ status: 200, body: history }),
      untagImage: () => ({ status: 201, body: { untagged: 'alice/busybox:v1', digest: DIGEST, remainingTags: [] } }),
    });
    renderApp('/image/alice/busybox:v1', s.fetch);
    expect((await screen.findByRole('link', { name: 'Create container' })).getAttribute('href')).toBe(
      '/containers?image=alice%2Fbusybox%3Av1',
    );
    await userEvent.click(screen.getByRole('button', { name: 'Untag' }));
    expect((await screen.findByRole('status')).textContent).toMatch(/^Untagged alice\/busybox:v1\./);
    const post = s.sent.find((r) => r.method === 'POST')!;
    expect(post.url).toBe('/api/v1/images/untag?ref=alice%2Fbusybox%3Av1');
    expect(post.headers[CSRF_HEADER]).toBe(aliceSession.csrfToken);
    expect(screen.queryByRole('button', { name: 'Untag' })).toBeNull();
  });

  it("offers no Untag in another user's namespace, and no actions to an anonymous visitor", async () => {
    const handlers = {
      inspectImage: () => ({ status: 200, body: inspect }),
      imageHistory: () => ({ status: 200, body: history }),
    };
    const bob = renderApp(
      '/image/alice/busybox:v1',
      fakeServer({ ...handlers, getSession: () => ({ status: 200, body: { ...aliceSession, user: 'bob' } }) }).fetch,
    );
    await screen.findByRole('link', { name: 'Create container' });
    expect(screen.queryByRole('button', { name: 'Untag' })).toBeNull();
    bob.unmount();
    renderApp(
      '/image/alice/busybox:v1',
      fakeServer({ ...handlers, getSession: () => error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' }) }).fetch,
    );
    await screen.findByRole('heading', { level: 2, name: 'Configuration' });
    expect(screen.queryByRole('link', { name: 'Create container' })).toBeNull();
  });
});
