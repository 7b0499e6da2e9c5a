// Referrers against a real Redis: descriptors per repository and subject, sorted by digest,
// filtered by artifact type, without empty annotations, and removed one by one.
import type Redis from 'ioredis';
import type { Digest } from '@stevedore/oci';
import { RedisKeys } from '@stevedore/platform';
import { OCI_MANIFEST, absent, useRedisServer } from '../test/metadata-fixture';
import { ReferrerRepository } from './referrer-repository';

const server = useRedisServer();
let redis: Redis;
let referrers: ReferrerRepository;
beforeAll(() => {
  redis = server.client();
  referrers = new ReferrerRepository(redis, new RedisKeys('referrer-repository'));
});

const subject = absent('1');
const sig = absent('c');
const sbom = absent('a');
const plain = absent('b');

async function add(name: string, on: Digest, digest: Digest, artifactType?: string, annotations?: Record<string, string>): Promise<void> {
  const m = redis.multi();
  referrers.queueAdd(m, name, on, { mediaType: OCI_MANIFEST, digest, size: 100, artifactType, annotations });
  await m.exec();
}

describe('ReferrerRepository', () => {
  beforeAll(async () => {
    await add('a/app', subject, sig, 'application/vnd.example.sig', { 'org.example': 'yes' });
    await add('a/app', subject, sbom, 'application/spdx+json', {});
    await add('a/app', subject, plain);
    await add('b/app', subject, absent('d'), 'application/vnd.example.sig');
  });

  it('lists the referrers of a subject in its repository, by digest, as the API describes them', async () => {
    expect(await referrers.list('a/app', subject)).toEqual([
      { mediaType: OCI_MANIFEST, digest: sbom, size: 100, artifactType: 'application/spdx+json' },
      { mediaType: OCI_MANIFEST, digest: plain, size: 100 },
      {
        mediaType: OCI_MANIFEST,
        digest: sig,
        size: 100,
        artifactType: 'application/vnd.example.sig',
        annotations: { 'org.example': 'yes' },
      },
    ]);
    expect(await referrers.list('a/app', absent('2'))).toEqual([]);
    expect((await referrers.list('b/app', subject)).map((r) => r.digest)).toEqual([absent('d')]);
  });

  it('filters by artifact type', async () => {
    expect((await referrers.list('a/app', subject, 'application/vnd.example.sig')).map((r) => r.digest)).toEqual([sig]);
    expect((await referrers.list('a/app', subject, 'application/spdx+json')).map((r) => r.digest)).toEqual([sbom]);
    expect(await referrers.list('a/app', subject, 'application/none')).toEqual([]);
  });

  it('removes one referrer, leaving the others and other repositories', async () => {
    await referrers.remove('a/app', subject, sig);
    expect((await referrers.list('a/app', subject)).map((r) => r.digest)).toEqual([sbom, plain]);
    expect((await referrers.list('b/app', subject)).map((r) => r.digest)).toEqual([absent('d')]);
  });
});
