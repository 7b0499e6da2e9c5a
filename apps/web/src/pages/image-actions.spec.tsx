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

  it('removes the image (docker rmi) after a confirmation, and says what went', async () => {
    const s = fakeServer({
      getSession: () => ({ status: 200, body: aliceSession }),
      inspectImage: () => ({ status: 200, body: inspect }),
      imageHistory: () => ({ status: 200, body: history }),
      removeImage: () => ({ status: 200, body: { untagged: ['alice/busybox:v1'], deleted: [DIGEST] } }),
    });
    renderApp('/image/alice/busybox:v1', s.fetch);
    await userEvent.click(await screen.findByRole('button', { name: 'Remove image' }));
    // Nothing is sent before the confirmation, and Cancel sends nothing either.
    await userEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(s.sent.filter((r) => r.method === 'DELETE')).toEqual([]);
    await userEvent.click(screen.getByRole('button', { name: 'Remove image' }));
    expect(screen.getByRole('group', { name: 'Confirm removal' }).textContent).toMatch(/delete its manifest if no other tag names it/);
    await userEvent.click(screen.getByRole('button', { name: 'Remove' }));
    expect((await screen.findByRole('status')).textContent).toMatch(`Untagged: alice/busybox:v1. Deleted: ${DIGEST}.`);
    const del = s.sent.find((r) => r.method === 'DELETE')!;
    expect(del.url).toBe('/api/v1/images?ref=alice%2Fbusybox%3Av1');
    expect(del.headers[CSRF_HEADER]).toBe(aliceSession.csrfToken);
    expect(screen.queryByRole('button', { name: 'Remove image' })).toBeNull();
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
    expect(screen.queryByRole('button', { name: 'Remove image' })).toBeNull();
    bob.unmount();
    renderApp(
      '/image/alice/busybox:v1',
      fakeServer({ ...handlers, getSession: () => error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' }) }).fetch,
    );
    await screen.findByRole('heading', { level: 2, name: 'Configuration' });
    expect(screen.queryByRole('link', { name: 'Create container' })).toBeNull();
  });
});
