import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { CSRF_HEADER } from '@stevedore/api-contract';
import { error, fakeServer } from '../fake-server';
import { aliceSession, repositories } from '../fixtures';
import { renderApp } from '../render-app';

function server() {
  let signedIn = false;
  return fakeServer({
    getSession: () => (signedIn ? { status: 200, body: aliceSession } : error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' })),
    createSession: (req) => {
      const b = req.body as { username: string; password: string };
      if (b.username !== 'alice' || b.password !== 'right-password') return error(401, 'UNAUTHORIZED', 'incorrect username or password');
      signedIn = true;
      return { status: 201, body: aliceSession };
    },
    deleteSession: () => {
      signedIn = false;
      return { status: 204 };
    },
    listRepositories: () => ({ status: 200, body: signedIn ? repositories : { items: [] } }),
  });
}

describe('sign in', () => {
  it('says so when the password is wrong, and keeps the reader on the form', async () => {
    const s = server();
    renderApp('/sign-in', s.fetch);
    await userEvent.type(screen.getByLabelText(/User name/), 'alice');
    await userEvent.type(screen.getByLabelText(/Password/), 'wrong-password');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveProperty('textContent', 'The user name or password is not right.');
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Sign in');
  });

  it('signs in, shows who is signed in and their repositories, then signs out with the anti-CSRF token', async () => {
    const s = server();
    renderApp('/sign-in', s.fetch);
    await userEvent.type(screen.getByLabelText(/User name/), 'alice');
    await userEvent.type(screen.getByLabelText(/Password/), 'right-password');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('link', { name: 'alice/busybox' })).toBeTruthy();
    expect(screen.getByRole('banner').textContent).toContain('Signed in as alice');
    // The password went to the sign-in request only.
    expect(s.sent.filter((r) => JSON.stringify(r.body ?? '').includes('right-password')).map((r) => r.url)).toEqual(['/api/v1/session']);

    await userEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Sign in'));
    expect(screen.getByRole('status').textContent).toContain('You signed out');
    const out = s.sent.find((r) => r.method === 'DELETE');
    expect(out?.headers[CSRF_HEADER]).toBe(aliceSession.csrfToken);
  });
});
