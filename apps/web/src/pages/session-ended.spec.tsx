import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { error, fakeServer } from '../fake-server';
import { aliceSession } from '../fixtures';
import { renderApp } from '../render-app';

describe('a session that ends while the page is open', () => {
  it('leads to a page that says so, offers signing in again, and clears the cookie', async () => {
    const s = fakeServer({
      getSession: () => ({ status: 200, body: aliceSession }),
      listRepositories: () => error(401, 'UNAUTHORIZED', 'your session has expired', { session: 'ended' }),
      deleteSession: () => ({ status: 204 }),
    });
    renderApp('/repositories', s.fetch);
    expect(await screen.findByRole('heading', { level: 1, name: 'Your session has ended' })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Sign in again' }).getAttribute('href')).toBe('/sign-in');
    expect(s.sent.some((r) => r.method === 'DELETE' && r.url === '/api/v1/session')).toBe(true);
    expect(document.title).toBe('Session ended · Stevedore');
  });
});
