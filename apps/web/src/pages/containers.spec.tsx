import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { CSRF_HEADER } from '@stevedore/api-contract';
import { CONTAINER_ID, container } from '../container-fixtures';
import { error, fakeServer } from '../fake-server';
import { aliceSession } from '../fixtures';
import { renderApp } from '../render-app';
import { cellTexts } from '../test-table';

describe('containers page', () => {
  it("lists the caller's containers and creates one from the image the image page named", async () => {
    const s = fakeServer({
      getSession: () => ({ status: 200, body: aliceSession }),
      listContainers: () => ({ status: 200, body: { containers: [container({ upperEntries: 2 })] } }),
      createContainer: (req) => ({
        status: 201,
        body: container({
          id: 'e'.repeat(64),
          name: undefined,
          image: { ...container().image, reference: (req.body as { image: string }).image },
        }),
      }),
      inspectContainer: () => error(404, 'NOT_FOUND', 'stop here'),
    });
    renderApp('/containers?image=alice%2Fbusybox%3Av1', s.fetch);
    const table = await screen.findByRole('table', { name: 'Containers, with the image each was created from' });
    expect(cellTexts(table)[0].slice(1)).toEqual([
      'web1',
      'alice/busybox:v1 sha256:abababababab',
      'running',
      '2 in the read-write layer',
      '2026-12-02 10:00:00 UTC',
    ]);
    // No owner column for a user: they only ever see their own.
    expect(within(table).queryByRole('columnheader', { name: 'Owner' })).toBeNull();
    expect((screen.getByLabelText(/^Image/) as HTMLInputElement).value).toBe('alice/busybox:v1');
    await userEvent.click(screen.getByRole('button', { name: 'Create container' }));
    await waitFor(() => expect(s.sent.some((r) => r.method === 'POST')).toBe(true));
    const post = s.sent.find((r) => r.method === 'POST')!;
    expect(post.url).toBe('/api/v1/containers');
    expect(post.body).toEqual({ image: 'alice/busybox:v1' });
    expect(post.headers[CSRF_HEADER]).toBe(aliceSession.csrfToken);
    // On to the new container's page.
    await screen.findByRole('heading', { level: 1, name: 'Container eeeeeeeeeeee' });
  });

  it('says why a create was refused, and offers a batch commit of the chosen containers', async () => {
    const s = fakeServer({
      getSession: () => ({ status: 200, body: aliceSession }),
      listContainers: () => ({
        status: 200,
        body: { containers: [container(), container({ id: 'e'.repeat(64), name: 'web2' })] },
      }),
      createContainer: () => error(403, 'DENIED', 'requested access to the resource is denied'),
    });
    renderApp('/containers', s.fetch);
    await userEvent.type(await screen.findByLabelText(/^Image/), 'bob/tools:v1');
    await userEvent.click(screen.getByRole('button', { name: 'Create container' }));
    expect((await screen.findByRole('alert')).textContent).toBe('There is no image bob/tools:v1, or you may not pull it.');
    expect(screen.queryByRole('link', { name: /^Commit/ })).toBeNull();
    await userEvent.click(screen.getByRole('checkbox', { name: 'Choose web1' }));
    await userEvent.click(screen.getByRole('checkbox', { name: 'Choose web2' }));
    expect(screen.getByRole('link', { name: 'Commit 2 containers' }).getAttribute('href')).toBe(
      `/commit?container=${CONTAINER_ID}&container=${'e'.repeat(64)}`,
    );
  });

  it('shows an admin whose containers they are, and an anonymous visitor none (and no nav link)', async () => {
    const admin = fakeServer({
      getSession: () => ({ status: 200, body: { ...aliceSession, user: 'root', admin: true } }),
      listContainers: () => ({ status: 200, body: { containers: [container({ owner: 'bob' })] } }),
    });
    const first = renderApp('/containers', admin.fetch);
    const table = await screen.findByRole('table');
    expect(within(table).getByRole('columnheader', { name: 'Owner' })).toBeTruthy();
    expect(within(table).getByRole('cell', { name: 'bob' })).toBeTruthy();
    first.unmount();

    const anonymous = fakeServer({ getSession: () => error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' }) });
    renderApp('/containers', anonymous.fetch);
    await screen.findByText(/Containers belong to signed-in users/);
    expect(within(screen.getByRole('navigation', { name: 'Main' })).queryByRole('link', { name: 'Containers' })).toBeNull();
    expect(anonymous.sent.map((r) => r.url)).not.toContain('/api/v1/containers');
  });
});
