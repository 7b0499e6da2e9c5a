// The pull-through decorators with in-memory fakes for the inner services, the upstream and Redis:
// the single-fetch guarantee, serving from cache when the upstream fails, and tag ownership (on a
// real filesystem storage, where the ownership of a pulled-through tag is durable).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { RegistryError, digestOf, type Digest, manifestReference, type LocalReference } from '@stevedore/oci';
import { RedisKeys } from '@stevedore/platform';
import { FilesystemDriver } from '@stevedore/storage';
import type { BlobContent, BlobInfo, BlobService } from '@stevedore/blobs';
import type { MetadataService, PutManifestResult, StoredManifest } from '@stevedore/metadata';
import { PullThroughBlobService } from './pull-through-blobs';
import { PullThroughMetadataService } from './pull-through-metadata';
import type { UpstreamClients } from './upstream-clients';
import type { UpstreamStore } from './upstream-store';
import type { UpstreamRecord } from './upstream';
import { UpstreamLayout } from './upstream-layout';

class FakeRedis {
  readonly data = new Map<string, string>();
  async set(key: string, value: string, ...args: unknown[]): Promise<'OK' | null> {
    if (args.includes('NX') && this.data.has(key)) return null;
    this.data.set(key, value);
    return 'OK';
  }
  async get(key: string): Promise<string | null> {
    return this.data.get(key) ?? null;
  }
  async exists(key: string): Promise<number> {
    return this.data.has(key) ? 1 : 0;
  }
  async mget(...keys: string[]): Promise<Array<string | null>> {
    return keys.map((k) => this.data.get(k) ?? null);
  }
  async del(key: string): Promise<number> {
    return this.data.delete(key) ? 1 : 0;
  }
  async pexpire(): Promise<number> {
    return 1;
  }
  async eval(_script: string, _n: number, key: string, token: string): Promise<number> {
    if (this.data.get(key) !== token) return 0;
    this.data.delete(key);
    return 1;
  }
}

class FakeBlobs implements Partial<BlobService> {
  readonly bytes = new Map<string, Buffer>();
  readonly links = new Set<string>();
  async stat(name: string, d: Digest): Promise<BlobInfo | undefined> {
    return this.links.has(`${name}@${d}`) ? { digest: d, size: this.bytes.get(d)!.length } : undefined;
  }
  async exists(d: Digest): Promise<BlobInfo | undefined> {
    return this.bytes.has(d) ? { digest: d, size: this.bytes.get(d)!.length } : undefined;
  }
  async open(name: string, d: Digest): Promise<BlobContent> {
    const info = await this.stat(name, d);
    if (!info) throw new RegistryError('BLOB_UNKNOWN');
    return { info, stream: Readable.from([this.bytes.get(d)!]) };
  }
  async putBlob(name: string, body: Readable, expected?: Digest): Promise<BlobInfo> {
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(c as Buffer);
    const b = parts.length ? Buffer.concat(parts) : this.bytes.get(expected!)!;
    const d = digestOf(b);
    if (expected && d !== expected) throw new RegistryError('DIGEST_INVALID');
    this.bytes.set(d, b);
    this.links.add(`${name}@${d}`);
    return { digest: d, size: b.length };
  }
}

const hub: UpstreamRecord = { id: 'hub', url: 'https://hub', prefixes: ['docker.io'], default: true, createdAt: '', updatedAt: '' };
const store = {
  resolve: async (name: string) => (name.startsWith('docker.io/') ? { upstream: hub, remoteName: name.slice(10) } : undefined),
} as unknown as UpstreamStore; // a fake with only the methods this test reaches; the rest of the interface is never called.

async function readAll(s: Readable | undefined): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s!) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('PullThroughBlobService', () => {
  const blob = Buffer.alloc(3 * 1024 * 1024, 7);
  const digest = digestOf(blob);

  function setup() {
    const calls = { get: 0, head: 0 };
    const registry = {
      getBlob: async () => {
        calls.get++;
        await new Promise((r) => setTimeout(r, 20));
        return { stream: Readable.from([blob.subarray(0, 1000), blob.subarray(1000)]), size: blob.length };
      },
      headBlob: async () => {
        calls.head++;
        return blob.length;
      },
    };
    // Cast: a fake with only the methods this test reaches; the rest of the interface is never called.
    const clients = { for: () => registry } as unknown as UpstreamClients;
    const inner = new FakeBlobs();
    // Cast: a fake with only the methods this test reaches; the rest of the interface is never called.
    const svc = new PullThroughBlobService(inner as unknown as BlobService, store, clients, new FakeRedis() as never, new RedisKeys('t'));
    return { svc, inner, calls };
  }

  it('fetches a missing blob once for concurrent requests, streaming to each', async () => {
    const { svc, inner, calls } = setup();
    const got = await Promise.all(Array.from({ length: 6 }, () => svc.open('docker.io/library/x', digest).then((c) => readAll(c.stream))));
    for (const g of got) expect(g.equals(blob)).toBe(true);
    expect(calls.get).toBe(1);
    expect(inner.links.has(`docker.io/library/x@${digest}`)).toBe(true);
  });

  it('links bytes it already has into another upstream-served name after the upstream confirms', async () => {
    const { svc, inner, calls } = setup();
    await readAll((await svc.open('docker.io/library/x', digest)).stream);
    const c = await svc.open('docker.io/library/y', digest);
    expect((await readAll(c.stream)).equals(blob)).toBe(true);
    expect(calls).toEqual({ get: 1, head: 1 });
    expect(inner.links.has(`docker.io/library/y@${digest}`)).toBe(true);
  });

  it('leaves names no upstream serves alone', async () => {
    const { svc, calls } = setup();
    await expect(svc.open('team/app', digest)).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    expect(calls.get).toBe(0);
  });
});

describe('PullThroughMetadataService', () => {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf('c'), size: 1 },
      layers: [],
    }),
  );
  const mt = 'application/vnd.oci.image.manifest.v1+json';

  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function setup() {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pull-through-spec-'));
    dirs.push(dir);
    const storage = new FilesystemDriver(dir);
    const manifests = new Map<string, StoredManifest>();
    const inner = {
      getManifest: async ({ name, ...r }: LocalReference) => {
        const m = manifests.get(`${name}:${r.digest ?? r.tag}`);
        if (!m) throw new RegistryError('MANIFEST_UNKNOWN');
        return m;
      },
      putManifest: async ({ name, ...r }: LocalReference, b: Buffer): Promise<PutManifestResult> => {
        const m = { digest: digestOf(b), mediaType: mt, size: b.length, bytes: b };
        manifests.set(`${name}:${r.digest ?? r.tag}`, m);
        manifests.set(`${name}:${m.digest}`, m);
        return { digest: m.digest, mediaType: mt };
      },
      tagManifest: async (name: string, tag: string, d: Digest) => {
        manifests.set(`${name}:${tag}`, manifests.get(`${name}:${d}`)!);
      },
      reindex: async () => ({ repositories: 0, manifests: 0, tags: 0, blobs: 0 }),
    } as unknown as MetadataService; // a fake with only the methods this test reaches; the rest of the interface is never called.
    const state = { up: true, gets: 0, heads: 0, bytes };
    const registry = {
      headManifest: async () => {
        state.heads++;
        if (!state.up) throw new RegistryError('UNAVAILABLE');
        return { digest: digestOf(state.bytes), mediaType: mt };
      },
      getManifest: async () => {
        state.gets++;
        if (!state.up) throw new RegistryError('TOOMANYREQUESTS');
        return { bytes: state.bytes, mediaType: mt, digest: digestOf(state.bytes) };
      },
    };
    const redis = new FakeRedis();
    const tags: string[] = [];
    const svc = new PullThroughMetadataService(
      inner,
      store,
      // Cast: a fake with only the methods this test reaches; the rest of the interface is never called.
      { for: () => registry } as unknown as UpstreamClients,
      redis as never,
      new RedisKeys('t'),
      storage,
      { manifestTtlSeconds: 60 },
      (n, t) => {
        tags.push(`${n}:${t}`);
      },
    );
    return { svc, state, redis, tags, storage };
  }
  const expireAll = (redis: FakeRedis) =>
    [...redis.data.keys()].filter((k) => k.includes('upstream-fresh')).forEach((k) => redis.data.delete(k));

  it('fetches a missing tag, then serves it from here within the TTL', async () => {
    const { svc, state } = setup();
    const m = await svc.getManifest(manifestReference('docker.io/library/busybox', 'latest'));
    expect(m.digest).toBe(digestOf(bytes));
    await svc.getManifest(manifestReference('docker.io/library/busybox', 'latest'));
    expect(state).toMatchObject({ gets: 1, heads: 0 });
  });

  it('revalidates a stale tag with HEAD, and serves the copy when the upstream fails', async () => {
    const { svc, state, redis } = setup();
    await svc.getManifest(manifestReference('docker.io/library/busybox', 'latest'));
    const expire = () => [...redis.data.keys()].filter((k) => k.includes('upstream-fresh')).forEach((k) => redis.data.delete(k));
    expire();
    await svc.getManifest(manifestReference('docker.io/library/busybox', 'latest'));
    expect(state).toMatchObject({ gets: 1, heads: 1 });
    expire();
    state.up = false;
    const m = await svc.getManifest(manifestReference('docker.io/library/busybox', 'latest'));
    expect(m.digest).toBe(digestOf(bytes));
    // A tag we never had is an upstream error for the client.
    await expect(svc.getManifest(manifestReference('docker.io/library/other', 'latest'))).rejects.toMatchObject({
      code: 'TOOMANYREQUESTS',
    });
  });

  it('never replaces a tag pushed here, and reports pushes to the rule hook', async () => {
    const { svc, state, redis, tags } = setup();
    const mine = Buffer.from(bytes.toString().replace('"layers":[]', '"layers":[],"annotations":{"a":"b"}'));
    await svc.putManifest(manifestReference('docker.io/library/busybox', 'latest'), mine, mt);
    [...redis.data.keys()].filter((k) => k.includes('upstream-fresh')).forEach((k) => redis.data.delete(k));
    const m = await svc.getManifest(manifestReference('docker.io/library/busybox', 'latest'));
    expect(m.digest).toBe(digestOf(mine));
    expect(state.gets + state.heads).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(tags).toEqual(['docker.io/library/busybox:latest']);
  });

  it("keeps which tags are the upstream's in storage: a Redis loss + reindex still revalidates them", async () => {
    const { svc, state, redis, storage } = setup();
    await svc.getManifest(manifestReference('docker.io/library/busybox', 'latest'));
    const origin = JSON.parse((await storage.getContent(UpstreamLayout.origin('docker.io/library/busybox', 'latest'))).toString());
    expect(origin).toMatchObject({ upstream: 'hub', remoteName: 'library/busybox' });
    expect(Date.parse(origin.at)).toBeGreaterThan(0);
    redis.data.clear();
    await svc.reindex();
    await svc.getManifest(manifestReference('docker.io/library/busybox', 'latest'));
    expect(state).toMatchObject({ gets: 1, heads: 1 });
  });

  it('rebuilds the markers before answering when Redis lost them and nobody reindexed', async () => {
    const { svc, state, redis } = setup();
    await svc.getManifest(manifestReference('docker.io/library/busybox', 'latest'));
    redis.data.clear();
    await svc.getManifest(manifestReference('docker.io/library/busybox', 'latest'));
    expect(state).toMatchObject({ gets: 1, heads: 1 });
    expect([...redis.data.keys()].some((k) => k.endsWith('upstream:origins-indexed'))).toBe(true);
  });

  it('a local push or tag over a pulled-through tag removes the claim from storage, also after a Redis loss', async () => {
    const { svc, state, redis, storage } = setup();
    const mine = Buffer.from(bytes.toString().replace('"layers":[]', '"layers":[],"annotations":{"a":"b"}'));
    await svc.getManifest(manifestReference('docker.io/library/busybox', 'latest'));
    await svc.getManifest(manifestReference('docker.io/library/busybox', 'v1'));
    await svc.putManifest(manifestReference('docker.io/library/busybox', 'latest'), mine, mt);
    expect(await storage.stat(UpstreamLayout.origin('docker.io/library/busybox', 'latest'))).toBeUndefined();
    // Redis lost before the tag: no marker to say so, and still the claim goes.
    redis.data.clear();
    await svc.tagManifest('docker.io/library/busybox', 'v1', digestOf(mine));
    expect(await storage.stat(UpstreamLayout.origin('docker.io/library/busybox', 'v1'))).toBeUndefined();
    await svc.reindex();
    expireAll(redis);
    for (const tag of ['latest', 'v1'])
      expect((await svc.getManifest(manifestReference('docker.io/library/busybox', tag))).digest).toBe(digestOf(mine));
    expect(state).toMatchObject({ gets: 2, heads: 0 });
  });

  it('a push with no marker in a Redis that has the markers does not touch storage', async () => {
    const { svc, storage } = setup();
    await svc.reindex();
    const del = jest.spyOn(storage, 'delete');
    const put = jest.spyOn(storage, 'putContent');
    await svc.putManifest(manifestReference('docker.io/library/busybox', 'mine'), bytes, mt);
    expect(del).not.toHaveBeenCalled();
    expect(put).not.toHaveBeenCalled();
  });

  it('a first push to a Redis without the markers rebuilds them, so later pushes do not touch storage', async () => {
    const { svc, storage, redis } = setup();
    const del = jest.spyOn(storage, 'delete');
    await svc.putManifest(manifestReference('docker.io/library/busybox', 'first'), bytes, mt);
    expect([...redis.data.keys()].some((k) => k.endsWith('upstream:origins-indexed'))).toBe(true);
    await svc.putManifest(manifestReference('docker.io/library/busybox', 'second'), bytes, mt);
    await svc.tagManifest('docker.io/library/busybox', 'third', digestOf(bytes));
    expect(del).not.toHaveBeenCalled();
  });
});
