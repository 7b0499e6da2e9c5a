// Read repair against a real Redis and both storage drivers: what Redis lost (every key of the
// platform gone, as after a failover that dropped acknowledged writes) is served from storage and
// written back; what storage does not have stays a 404, remembered for a moment; a tag removed
// while its repair writes back is not brought back.
import { delEach, keysEverywhere } from '@stevedore/testing';
import { digestOf, type Digest } from '@stevedore/oci';
import type { StorageDriver } from '@stevedore/storage';
import { OCI_MANIFEST, STORAGE_KINDS, code, image as imageOf, useMetadataFixture, useRedisServer } from '../test/metadata-fixture';
import { createManifestMetadata } from './manifest-metadata';
import { createManifestReader } from './manifest-reader';
import { metadataPaths } from './metadata-layout';
import type { MetadataService } from './metadata-service';
import type { RepairKind } from './read-repair';

jest.setTimeout(120_000);
const server = useRedisServer();

describe.each(STORAGE_KINDS)('read repair (%s)', (kind) => {
  const f = useMetadataFixture(server, kind, 'readrepair');
  let service: MetadataService;
  beforeAll(() => {
    service = createManifestMetadata(f.storage, f.redis, f.keys, f.blobs, f.blobs, { maxManifestBytes: 64 * 1024 });
  });

  /** Redis forgets everything this suite wrote. */
  async function loseRedis(): Promise<void> {
    await delEach(f.redis, await keysEverywhere(f.redis, `${f.keys.prefix}*`));
  }

  /** `storage` with every call counted, and a hook to run before a call goes through. */
  function counted(before?: (op: string, key: string) => Promise<void>): { storage: StorageDriver; calls: () => number } {
    let calls = 0;
    const storage = new Proxy(f.storage, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        return async (...args: unknown[]) => {
          calls++;
          await before?.(String(prop), String(args[0]));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return { storage, calls: () => calls };
  }

  it('serves a tag, a digest and a blob link Redis lost from storage, and writes them back', async () => {
    const bytes = await imageOf(f.blobs, 'rr/app', 'one');
    const digest = digestOf(bytes);
    await service.putManifest({ name: 'rr/app', tag: 'v1' }, bytes, OCI_MANIFEST);
    const config = JSON.parse(bytes.toString()).config.digest as Digest;
    await loseRedis();

    const repaired: RepairKind[] = [];
    const reader = createManifestReader(f.storage, f.redis, f.keys, { onRepair: (k) => repaired.push(k) });
    const byTag = await reader.getManifest({ name: 'rr/app', tag: 'v1' });
    expect(byTag.digest).toBe(digest);
    expect(byTag.bytes.equals(bytes)).toBe(true);
    expect(repaired).toEqual(['revision', 'tag']);
    // Written back: Redis alone answers now, the service's own reads included.
    expect((await service.getManifest({ name: 'rr/app', tag: 'v1' })).digest).toBe(digest);
    expect((await service.listTags('rr/app')).items).toEqual(['v1']);

    await loseRedis();
    repaired.length = 0;
    expect((await reader.getManifest({ name: 'rr/app', digest })).bytes.equals(bytes)).toBe(true);
    expect(repaired).toEqual(['revision']);

    // A pull of the blob: its link and record come back from storage too (not a HEAD: stat stays Redis only).
    expect(await f.blobs.stat('rr/app', config)).toBeUndefined();
    const content = await f.blobs.open('rr/app', config);
    expect(content.info.size).toBeGreaterThan(0);
    expect(await f.blobs.stat('rr/app', config)).toEqual(content.info);
  });

  it('answers 404 for what storage does not have either, and remembers the miss for a moment', async () => {
    const { storage, calls } = counted();
    const reader = createManifestReader(storage, f.redis, f.keys, { missTtlMs: 60_000 });
    expect(await code(reader.getManifest({ name: 'rr/none', tag: 'v1' }))).toBe('MANIFEST_UNKNOWN');
    const afterFirst = calls();
    expect(afterFirst).toBeGreaterThan(0);
    // Asked again within the miss's time: nothing read from storage.
    expect(await code(reader.getManifest({ name: 'rr/none', tag: 'v1' }))).toBe('MANIFEST_UNKNOWN');
    expect(calls()).toBe(afterFirst);
    expect(await code(reader.getManifest({ name: 'rr/none', digest: digestOf('nothing') }))).toBe('MANIFEST_UNKNOWN');
    const afterDigest = calls();
    expect(afterDigest).toBeGreaterThan(afterFirst);
    expect(await code(reader.getManifest({ name: 'rr/none', digest: digestOf('nothing') }))).toBe('MANIFEST_UNKNOWN');
    expect(calls()).toBe(afterDigest);
  });

  it('does not bring back a tag removed while its repair writes it back', async () => {
    const bytes = await imageOf(f.blobs, 'rr/race', 'one');
    await service.putManifest({ name: 'rr/race', tag: 'gone' }, bytes, OCI_MANIFEST);
    await loseRedis();
    // The removal lands between the repair's read of the tag link and its check after writing back.
    const link = metadataPaths.tagCurrent('rr/race', 'gone');
    let reads = 0;
    const { storage } = counted(async (op, key) => {
      if (op === 'getContent' && key === link && ++reads === 2) await f.storage.delete(link);
    });
    const reader = createManifestReader(storage, f.redis, f.keys);
    expect(await code(reader.getManifest({ name: 'rr/race', tag: 'gone' }))).toBe('MANIFEST_UNKNOWN');
    expect(reads).toBe(2);
    expect(await f.redis.hget(f.keys.repo('rr/race', 'tags'), 'gone')).toBeNull();
    expect((await service.listTags('rr/race')).items).toEqual([]);
    // The manifest itself is still the repository's, by digest.
    expect((await reader.getManifest({ name: 'rr/race', digest: digestOf(bytes) })).bytes.equals(bytes)).toBe(true);
  });

  it('does not take bytes that are not what the digest says', async () => {
    const bytes = await imageOf(f.blobs, 'rr/bad', 'one');
    const digest = digestOf(bytes);
    await service.putManifest({ name: 'rr/bad', tag: 'v1' }, bytes, OCI_MANIFEST);
    await loseRedis();
    const reader = createManifestReader(
      new Proxy(f.storage, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver);
          if (prop !== 'getContent') return typeof v === 'function' ? v.bind(target) : v;
          // The manifest's bytes come back altered (a bad disk, a hand edit): not served, not indexed.
          return async (key: string) => {
            const b = (await (v as (k: string) => Promise<Buffer>).call(target, key)) as Buffer;
            return key.includes(digest.slice(7)) && !key.includes('_manifests') ? Buffer.concat([b, Buffer.from(' ')]) : b;
          };
        },
      }),
      f.redis,
      f.keys,
    );
    expect(await code(reader.getManifest({ name: 'rr/bad', tag: 'v1' }))).toBe('MANIFEST_UNKNOWN');
    expect(await f.redis.sismember(f.keys.repo('rr/bad', 'revisions'), digest)).toBe(0);
  });
});
