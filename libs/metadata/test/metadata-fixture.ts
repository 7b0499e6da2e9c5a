// What the repository specs share: one private redis-server per spec file, and per storage driver
// (filesystem, and S3 on the shared Ceph RGW) a fresh storage, a key prefix of its own, layer
// storage for the manifest bytes and config blobs, and the repositories wired as
// createManifestMetadata wires them.
import { Readable } from 'node:stream';
import type Redis from 'ioredis';
import type { Digest } from '@stevedore/oci';
import { RedisKeys } from '@stevedore/platform';
import { createStorageDriver, type StorageDriver } from '@stevedore/storage';
import { DigestGuard, createLayerStorage, type BlobGcService, type BlobService } from '@stevedore/blobs';
import { openTestRedis, startTestRedis, testStorage, type TestStorageKind } from '@stevedore/testing';
import { CatalogRepository } from '../src/catalog-repository';
import { ImageIdRepository } from '../src/image-id-repository';
import { ManifestRepository } from '../src/manifest-repository';
import { ReferrerRepository } from '../src/referrer-repository';
import { TagRepository } from '../src/tag-repository';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const STORAGE_KINDS = ['filesystem', 's3'] as const satisfies readonly TestStorageKind[];

/** The registry error code a promise rejects with, or undefined when it resolves. */
export const code = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: { code?: string }) => e.code,
  );

/**
 * Starts a redis-server for the spec file and a client of it (beforeAll/afterAll); call at the top
 * level. The client disconnects before the server stops, so no reconnect timer outlives the file.
 */
export function useRedisServer(): { url(): string; client(): Redis; cluster(): boolean } {
  // STEVEDORE_TEST_REDIS=cluster: a 3+3 Redis Cluster instead (keys then tagged as on a cluster).
  let server: Awaited<ReturnType<typeof startTestRedis>>;
  let client: Redis;
  beforeAll(async () => {
    server = await startTestRedis();
    client = await openTestRedis(server.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });
  return { url: () => server.url, client: () => client, cluster: () => server.cluster };
}

export interface MetadataFixture {
  storage: StorageDriver;
  redis: Redis;
  keys: RedisKeys;
  blobs: BlobService & BlobGcService;
  guard: DigestGuard;
  catalog: CatalogRepository;
  referrers: ReferrerRepository;
  imageIds: ImageIdRepository;
  tags: TagRepository;
  manifests: ManifestRepository;
  /** Redis' clock in ms, the one every GC cutoff is taken from. */
  now(): Promise<number>;
}

/** Inside a describe: a fresh storage of `kind` and the repositories over it, filled in by beforeAll. */
export function useMetadataFixture(server: { url(): string; cluster?(): boolean }, kind: TestStorageKind, label: string): MetadataFixture {
  const f = {} as MetadataFixture;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const t = await testStorage(kind, label);
    f.storage = await createStorageDriver(t.options);
    close = async () => {
      await f.storage.close?.();
      await t.close();
    };
    f.redis = await openTestRedis(server.url());
    // A prefix per spec and driver: the suites of a file share one Redis.
    f.keys = new RedisKeys(`${label}-${kind}`, server.cluster?.() ?? false);
    f.blobs = createLayerStorage(f.storage, f.redis, f.keys);
    f.guard = new DigestGuard(f.redis, f.keys);
    f.catalog = new CatalogRepository(f.redis, f.keys);
    f.referrers = new ReferrerRepository(f.redis, f.keys);
    f.tags = new TagRepository(f.storage, f.redis, f.keys);
    f.imageIds = new ImageIdRepository(f.redis, f.keys);
    f.manifests = new ManifestRepository(f.storage, f.redis, f.keys, f.guard, f.catalog, f.referrers, f.imageIds);
    f.now = () => f.guard.now();
  });
  afterAll(async () => {
    f.redis?.disconnect();
    await close?.();
  });
  return f;
}

/**
 * An image manifest whose config blob is pushed into `name` (so reference checks pass); `extra`
 * makes it unique, `subject` makes it a referrer (artifact type `application/vnd.example+json`
 * unless `artifactType` says otherwise).
 */
export async function image(
  blobs: BlobService,
  name: string,
  extra: string,
  subject?: { digest: string; size: number },
  artifactType = 'application/vnd.example+json',
): Promise<Buffer> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { extra } }, rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const c = await blobs.putBlob(name, Readable.from([config]));
  const m: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
    layers: [],
  };
  if (subject) Object.assign(m, { subject: { mediaType: OCI_MANIFEST, ...subject }, artifactType });
  return Buffer.from(JSON.stringify(m));
}

/** A digest nothing stores. */
export const absent = (c: string) => `sha256:${c.repeat(64)}` as Digest;
