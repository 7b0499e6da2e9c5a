// Read repair against real processes (all-in-one and split): Redis loses the index entries of a
// repository (as a failover that dropped acknowledged writes would: replication is asynchronous),
// storage still holds everything, and pulls by tag and by digest go on working, the entries written
// back and counted in /metrics; a tag deleted before the loss stays deleted.
import type Redis from 'ioredis';
import {
  OCI_MANIFEST,
  delEach,
  http,
  keysEverywhere,
  openTestRedis,
  pullWhole,
  pushImage,
  startStevedore,
  type StevedoreUnderTest,
  type Wiring,
} from '@stevedore/testing';

jest.setTimeout(180_000);

describe.each(['all', 'split'] as Wiring[])('read repair (%s)', (wiring) => {
  let s: StevedoreUnderTest;
  let redis: Redis;
  beforeAll(async () => {
    s = await startStevedore({ wiring });
    redis = await openTestRedis(s.redisUrl);
  });
  afterAll(async () => {
    redis?.disconnect();
    await s?.stop();
  });

  /** Every index entry of `name`, and every manifest and blob record, gone from Redis. */
  async function loseIndex(name: string): Promise<number> {
    const keys = [
      ...(await keysEverywhere(redis, `*repo:{${name}}*`)),
      // On a cluster the digest is in {} (manifest:{sha256:…}).
      ...(await keysEverywhere(redis, '*:manifest:*sha256:*')),
      ...(await keysEverywhere(redis, '*:blob:*sha256:*')),
    ];
    await delEach(redis, keys);
    return keys.length;
  }

  async function repairs(): Promise<number> {
    const text = (await http(s.url, 'GET', '/metrics')).body.toString();
    return [...text.matchAll(/^stevedore_read_repairs_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  }

  it('pulls by tag and by digest what Redis lost, writes it back, and counts it', async () => {
    const one = await pushImage(s.url, 'repair/app', 'v1');
    const two = await pushImage(s.url, 'repair/app', 'v2');
    expect((await http(s.url, 'DELETE', `/v2/repair/app/manifests/v2`)).status).toBe(202);
    const before = await repairs();
    expect(await loseIndex('repair/app')).toBeGreaterThan(5);

    expect(await pullWhole(s.url, 'repair/app', 'v1')).toEqual({ ok: true, digest: one.digest });
    const byDigest = await http(s.url, 'GET', `/v2/repair/app/manifests/${two.digest}`, undefined, { accept: OCI_MANIFEST });
    expect(byDigest.status).toBe(200);
    expect(byDigest.body.equals(two.manifest)).toBe(true);
    // The deleted tag is not brought back; its manifest still is the repository's, by digest, as before the loss.
    expect((await http(s.url, 'GET', `/v2/repair/app/manifests/v2`, undefined, { accept: OCI_MANIFEST })).status).toBe(404);
    expect((await http(s.url, 'GET', '/v2/repair/app/manifests/nothing', undefined, { accept: OCI_MANIFEST })).status).toBe(404);

    // Written back: the tag list (which only Redis answers) has v1 again.
    expect(JSON.parse((await http(s.url, 'GET', '/v2/repair/app/tags/list')).body.toString()).tags).toEqual(['v1']);
    expect(await repairs()).toBeGreaterThanOrEqual(before + 4);
  });
});
