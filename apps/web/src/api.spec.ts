import { describe, expect, it } from 'vitest';
import { CSRF_HEADER } from '@stevedore/api-contract';
import { Api, ApiError } from './api';
import { error, fakeServer } from './fake-server';
import { aliceSession, repositories } from './fixtures';

describe('the data layer', () => {
  it('refuses an answer of a shape the contract does not accept', async () => {
    const api = new Api(async () => new Response(JSON.stringify({ items: [{ repository: 'a' }] }), { status: 200 }));
    await expect(api.repositories()).rejects.toThrow(/name|expected/i);
  });

  it('sends the anti-CSRF token on unsafe calls only, once signed in', async () => {
    const s = fakeServer({
      createSession: () => ({ status: 201, body: aliceSession }),
      listRepositories: () => ({ status: 200, body: repositories }),
      deleteSession: () => ({ status: 204 }),
    });
    const api = new Api(s.fetch);
    await api.signIn('alice', 'pw-pw-pw-pw');
    await api.repositories();
    await api.signOut();
    expect(s.sent.map((r) => [r.method, r.headers[CSRF_HEADER]])).toEqual([
      ['POST', undefined],
      ['GET', undefined],
      ['DELETE', aliceSession.csrfToken],
    ]);
  });

  it('asks the repository index with the search and order, and tells an ended session from no session', async () => {
    const s = fakeServer({
      listRepositories: () => ({ status: 200, body: repositories }),
      getSession: () => error(401, 'UNAUTHORIZED', 'ended', { session: 'ended' }),
    });
    const api = new Api(s.fetch);
    expect((await api.repositories({ q: 'busy', sort: 'pulls', cursor: '50' })).items).toEqual(repositories.items);
    expect(s.sent[0].url).toBe('/api/v1/repositories?q=busy&sort=pulls&cursor=50&n=50');
    let told = 0;
    api.onSessionEnded(() => told++);
    const e = await api.session().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).sessionEnded).toBe(true);
    expect(told).toBe(1);
  });
});
