import { describe, expect, it } from 'vitest';
import { CSRF_HEADER } from '@stevedore/api-contract';
import { Api, ApiError } from './api';
import { error, fakeServer } from './fake-server';
import { aliceSession, images } from './fixtures';

describe('the data layer', () => {
  it('refuses an answer of a shape the contract does not accept', async () => {
    const api = new Api(async () => new Response(JSON.stringify({ items: [{ repository: 'a' }] }), { status: 200 }));
    await expect(api.repositories()).rejects.toThrow(/digest|tag|expected/i);
  });

  it('sends the anti-CSRF token on unsafe calls only, once signed in', async () => {
    const s = fakeServer({
      createSession: () => ({ status: 201, body: aliceSession }),
      listImages: () => ({ status: 200, body: images }),
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

  it('groups image rows into repositories, and tells an ended session from no session', async () => {
    const s = fakeServer({
      listImages: () => ({
        status: 200,
        body: { items: [...images.items, { ...images.items[0], tag: 'v2', created: '2026-12-02T00:00:00.000Z' }] },
      }),
      getSession: () => error(401, 'UNAUTHORIZED', 'ended', { session: 'ended' }),
    });
    const api = new Api(s.fetch);
    expect((await api.repositories()).items).toEqual([{ name: 'alice/busybox', tags: 2, newest: '2026-12-02T00:00:00.000Z' }]);
    let told = 0;
    api.onSessionEnded(() => told++);
    const e = await api.session().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).sessionEnded).toBe(true);
    expect(told).toBe(1);
  });
});
