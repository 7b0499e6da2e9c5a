// The repository index end to end against a real Stevedore: search by name, sort by name, last push
// or pulls, pages by cursor, pulls counted from manifest GETs, and only what the caller may pull.
import { startStevedore, http, pushImage, type StevedoreUnderTest, type UncheckedJson } from '@stevedore/testing';

jest.setTimeout(120_000);

let sut: StevedoreUnderTest;
const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const ANON = { authorization: '' };

beforeAll(async () => {
  sut = await startStevedore({ wiring: 'all' });
  for (const name of ['alice', 'bob']) {
    const r = await http(sut.url, 'POST', '/api/v1/users', JSON.stringify({ name, password: `${name}-password-1` }), {
      'content-type': 'application/json',
    });
    expect(r.status).toBe(201);
  }
  // Pushed one after the other: last push order is alpha, beta, gamma-alpha, then alice's.
  for (const name of ['rx/alpha', 'rx/beta', 'rx/gamma-alpha', 'alice/one']) {
    await pushImage(sut.url, name, 'v1');
    await new Promise((r) => setTimeout(r, 5));
  }
  await pushImage(sut.url, 'rx/beta', 'v2');
});
afterAll(async () => {
  await sut?.stop();
});

async function list(query: string, headers: Record<string, string> = {}): Promise<UncheckedJson> {
  const r = await http(sut.url, 'GET', `/api/v1/repositories${query}`, undefined, headers);
  if (r.status !== 200) throw new Error(`${r.status} ${r.body}`);
  return r.json();
}
const names = (page: UncheckedJson) => page.items.map((i: UncheckedJson) => i.name);

describe('GET /api/v1/repositories', () => {
  it('searches names (those starting with the text first) and sorts by name or last push', async () => {
    expect(names(await list(''))).toEqual(['alice/one', 'rx/alpha', 'rx/beta', 'rx/gamma-alpha']);
    expect(names(await list('?q=ALPHA'))).toEqual(['rx/alpha', 'rx/gamma-alpha']);
    expect(names(await list('?q=rx/g'))).toEqual(['rx/gamma-alpha']);
    // rx/beta got its v2 last.
    expect(names(await list('?sort=pushed'))).toEqual(['rx/beta', 'alice/one', 'rx/gamma-alpha', 'rx/alpha']);
    const beta = (await list('?q=beta')).items[0];
    expect(beta.tags).toBe(2);
    expect(Date.parse(beta.lastPush)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('counts manifest GETs as pulls (not HEADs) and sorts by them', async () => {
    const accept = { accept: 'application/vnd.oci.image.manifest.v1+json' };
    for (let i = 0; i < 3; i++) expect((await http(sut.url, 'GET', '/v2/rx/gamma-alpha/manifests/v1', undefined, accept)).status).toBe(200);
    expect((await http(sut.url, 'GET', '/v2/rx/alpha/manifests/v1', undefined, accept)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await http(sut.url, 'HEAD', '/v2/rx/beta/manifests/v1', undefined, accept)).status).toBe(200);
    // Counted in memory and written within a second.
    await new Promise((r) => setTimeout(r, 1500));
    const page = await list('?sort=pulls');
    expect(page.items.slice(0, 2).map((i: UncheckedJson) => [i.name, i.pulls])).toEqual([
      ['rx/gamma-alpha', 3],
      ['rx/alpha', 1],
    ]);
    expect(page.items.find((i: UncheckedJson) => i.name === 'rx/beta').pulls).toBe(0);
  });

  it('pages by cursor, and shows each caller only what it may pull, without saying how much else there is', async () => {
    const first = await list('?n=3');
    expect(names(first)).toEqual(['alice/one', 'rx/alpha', 'rx/beta']);
    expect(first.next).toBe('3');
    const second = await list(`?n=3&cursor=${first.next}`);
    expect(names(second)).toEqual(['rx/gamma-alpha']);
    expect(second.next).toBeUndefined();

    expect(names(await list('', { authorization: basic('alice', 'alice-password-1') }))).toEqual(['alice/one']);
    expect(names(await list('', { authorization: basic('bob', 'bob-password-1') }))).toEqual([]);
    expect(names(await list('', ANON))).toEqual([]);
    const pub = await http(sut.url, 'PUT', '/api/v1/repositories/visibility', JSON.stringify({ repository: 'rx/beta', public: true }), {
      'content-type': 'application/json',
    });
    expect(pub.status).toBe(200);
    expect(names(await list('', ANON))).toEqual(['rx/beta']);
    // Bob's page of one: the cursor moved past what he may not see, and says nothing of how much it was.
    const bobs = await list('?n=1', { authorization: basic('bob', 'bob-password-1') });
    expect(names(bobs)).toEqual(['rx/beta']);
    expect(bobs.next).toBe('3');
    expect(Object.keys(bobs).sort()).toEqual(['items', 'next']);
  });

  it('refuses a bad sort, n or cursor with a 400 in the error format', async () => {
    for (const q of ['?sort=size', '?n=0', '?n=abc', '?cursor=-1']) {
      const r = await http(sut.url, 'GET', `/api/v1/repositories${q}`);
      expect({ q, status: r.status, code: r.json().errors?.[0]?.code }).toEqual({ q, status: 400, code: 'INVALID_REQUEST' });
    }
  });
});
