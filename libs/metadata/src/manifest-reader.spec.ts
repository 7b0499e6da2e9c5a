// The read side a split gateway runs in process (createManifestReader, its own instance over the
// same Redis and storage as the metadata service): it serves what the service wrote, by tag and by
// digest, follows a tag moved or deleted at once (tags are read from Redis on every call, only
// records are cached, by digest), and refuses a repository that does not hold the digest even
// after it has cached the record for another.
import { digestOf } from '@stevedore/oci';
import { OCI_MANIFEST, STORAGE_KINDS, code, image as imageOf, useMetadataFixture, useRedisServer } from '../test/metadata-fixture';
import { createManifestMetadata } from './manifest-metadata';
import { createManifestReader, type ManifestReader } from './manifest-reader';
import type { MetadataService } from './metadata-service';

jest.setTimeout(120_000);
const server = useRedisServer();

describe.each(STORAGE_KINDS)('ManifestReader (%s)', (kind) => {
  const f = useMetadataFixture(server, kind, 'manifestreader');
  let service: MetadataService;
  let reader: ManifestReader;
  beforeAll(() => {
    service = createManifestMetadata(f.storage, f.redis, f.keys, f.blobs, f.blobs, { maxManifestBytes: 64 * 1024 });
    reader = createManifestReader(f.storage, f.redis, f.keys);
  });

  it('reads what the service wrote and follows tag moves and deletes at once', async () => {
    const one = await imageOf(f.blobs, 'r/app', 'one');
    const two = await imageOf(f.blobs, 'r/app', 'two');
    await service.putManifest({ name: 'r/app', tag: 'latest' }, one, OCI_MANIFEST);
    const first = await reader.getManifest({ name: 'r/app', tag: 'latest' });
    expect(first).toMatchObject({ digest: digestOf(one), mediaType: OCI_MANIFEST, size: one.length });
    expect(first.bytes.equals(one)).toBe(true);
    await service.putManifest({ name: 'r/app', tag: 'latest' }, two, OCI_MANIFEST);
    expect((await reader.getManifest({ name: 'r/app', tag: 'latest' })).digest).toBe(digestOf(two));
    expect((await reader.getManifest({ name: 'r/app', digest: digestOf(one) })).bytes.equals(one)).toBe(true);
    await service.deleteTag('r/app', 'latest');
    expect(await code(reader.getManifest({ name: 'r/app', tag: 'latest' }))).toBe('MANIFEST_UNKNOWN');
    await service.deleteManifest('r/app', digestOf(one));
    expect(await code(reader.getManifest({ name: 'r/app', digest: digestOf(one) }))).toBe('MANIFEST_UNKNOWN');
  });

  it('asks the repository every time, whatever it has cached by digest', async () => {
    const bytes = await imageOf(f.blobs, 'r/mine', 'mine');
    await service.putManifest({ name: 'r/mine', tag: 'v1' }, bytes, OCI_MANIFEST);
    expect((await reader.getManifest({ name: 'r/mine', digest: digestOf(bytes) })).digest).toBe(digestOf(bytes));
    expect(await code(reader.getManifest({ name: 'r/other', digest: digestOf(bytes) }))).toBe('MANIFEST_UNKNOWN');
    expect(await code(reader.getManifest({ name: 'r/other', tag: 'v1' }))).toBe('MANIFEST_UNKNOWN');
  });
});
