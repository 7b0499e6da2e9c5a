// The time machine end to end against a real Stevedore: where a tag has pointed, newest first, and
// pointing it back at an image it named before; never at one it did not name or that is gone.
import { startStevedore, http, pushImage, type StevedoreUnderTest, type UncheckedJson } from '@stevedore/testing';

jest.setTimeout(120_000);

let sut: StevedoreUnderTest;
beforeAll(async () => {
  sut = await startStevedore({ wiring: 'all' });
});
afterAll(async () => {
  await sut?.stop();
});

const get = (ref: string) => http(sut.url, 'GET', `/api/v1/images/tag-history?ref=${encodeURIComponent(ref)}`);
const restore = (ref: string, digest: string) =>
  http(sut.url, 'POST', '/api/v1/images/tag-history/restore', JSON.stringify({ ref, digest }), { 'content-type': 'application/json' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('tag history', () => {
  it('lists every digest a tag named, newest first, and restores an earlier one', async () => {
    const one = await pushImage(sut.url, 'th/app', 'v1');
    await sleep(5);
    const two = await pushImage(sut.url, 'th/app', 'v1');
    await sleep(5);
    const three = await pushImage(sut.url, 'th/app', 'v1');
    const h = await get('th/app:v1');
    expect(h.status).toBe(200);
    const body = h.json();
    expect(body.repository).toBe('th/app');
    expect(body.tag).toBe('v1');
    expect(body.current).toBe(three.digest);
    expect(body.entries.map((e: UncheckedJson) => e.digest)).toEqual([three.digest, two.digest, one.digest]);
    expect(body.entries.map((e: UncheckedJson) => e.current)).toEqual([true, false, false]);
    expect(body.entries.every((e: UncheckedJson) => e.available && !Number.isNaN(Date.parse(e.taggedAt)))).toBe(true);

    const r = await restore('th/app:v1', one.digest);
    expect(r.status).toBe(201);
    expect(r.json()).toMatchObject({ target: 'th/app:v1', digest: one.digest, previous: three.digest });
    const pulled = await http(sut.url, 'HEAD', '/v2/th/app/manifests/v1', undefined, {
      accept: 'application/vnd.oci.image.manifest.v1+json',
    });
    expect(pulled.headers.get('docker-content-digest')).toBe(one.digest);
    const after = (await get('th/app:v1')).json();
    expect(after.entries[0]).toMatchObject({ digest: one.digest, current: true });
    expect(after.entries).toHaveLength(3);
  });

  it('refuses a digest the tag never named, one that is gone, a digest ref and a tag without history', async () => {
    const a = await pushImage(sut.url, 'th/refuse', 'v1');
    const other = await pushImage(sut.url, 'th/refuse', 'other');
    await pushImage(sut.url, 'th/refuse', 'v1');
    const never = await restore('th/refuse:v1', other.digest);
    expect(never.status).toBe(404);
    expect(never.json().errors[0]).toMatchObject({ code: 'MANIFEST_UNKNOWN', message: `th/refuse:v1 never named ${other.digest}` });
    // Delete the first image: its history entry stays, marked unavailable, and cannot be restored.
    expect((await http(sut.url, 'DELETE', `/v2/th/refuse/manifests/${a.digest}`)).status).toBe(202);
    const h = (await get('th/refuse:v1')).json();
    expect(h.entries.find((e: UncheckedJson) => e.digest === a.digest)).toMatchObject({ available: false, current: false });
    const gone = await restore('th/refuse:v1', a.digest);
    expect(gone.status).toBe(404);
    expect(gone.json().errors[0].message).toContain('no longer in th/refuse');
    expect((await get(`th/refuse@${a.digest}`)).status).toBe(400);
    expect((await get('th/refuse:nosuch')).status).toBe(404);
    // An untagged tag keeps its history, current null.
    expect((await http(sut.url, 'POST', '/api/v1/images/untag?ref=th/refuse:other')).status).toBe(201);
    expect((await get('th/refuse:other')).json()).toMatchObject({
      current: null,
      entries: [{ digest: other.digest, current: false, available: true }],
    });
    expect((await restore('th/refuse:other', other.digest)).status).toBe(201);
    expect((await get('th/refuse:other')).json().current).toBe(other.digest);
  });
});
