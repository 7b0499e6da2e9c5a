// BlobService with pull-through: a blob GET that misses here, for an upstream-served name, streams
// from the upstream to the client while the same bytes are stored (digest verified by the store).
// One fetch per blob even under concurrent requests: within a process a per-digest in-flight
// promise, across replicas a Redis lock; whoever does not fetch waits for the stored copy.
import { upstreamKeys } from './upstream-layout';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { RegistryError, type Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { BlobContent, BlobInfo, BlobService, ByteRange, OpenOptions, UploadStatus } from '@stevedore/blobs';
import type { UpstreamClients } from './upstream-clients';
import type { UpstreamMapping } from './upstream-mapping';
import type { UpstreamStore } from './upstream-store';
import { tee } from './tee';

export interface PullThroughBlobOptions {
  /** How long a replica's fetch lock lives without renewal. */
  lockTtlMs?: number;
  /** How long a request waits for another replica's fetch before giving up. */
  waitMs?: number;
}

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export class PullThroughBlobService implements BlobService {
  private readonly logger = new Logger('pull-through');
  private readonly inflight = new Map<Digest, Promise<BlobInfo>>();
  private readonly lockTtlMs: number;
  private readonly waitMs: number;

  constructor(
    private readonly inner: BlobService,
    private readonly upstreams: UpstreamStore,
    private readonly clients: UpstreamClients,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    options: PullThroughBlobOptions = {},
  ) {
    this.lockTtlMs = options.lockTtlMs ?? 30_000;
    this.waitMs = options.waitMs ?? 10 * 60_000;
  }

  private async mapping(name: string): Promise<UpstreamMapping | undefined> {
    try {
      return await this.upstreams.resolve(name);
    } catch {
      return undefined;
    }
  }

  async stat(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    const local = await this.inner.stat(name, digest);
    if (local) return local;
    const mapping = await this.mapping(name);
    if (!mapping) return undefined;
    const size = await this.clients
      .for(mapping.upstream)
      .headBlob(mapping.remoteName, digest)
      .catch(() => undefined);
    return size === undefined ? undefined : { digest, size };
  }

  async open(name: string, digest: Digest, options: OpenOptions = {}): Promise<BlobContent> {
    try {
      return await this.inner.open(name, digest, options);
    } catch (e) {
      if (!RegistryError.is(e, 'BLOB_UNKNOWN')) throw e;
      const mapping = await this.mapping(name);
      if (!mapping) throw e;
      return this.pull(mapping, name, digest, options);
    }
  }

  private async pull(mapping: UpstreamMapping, name: string, digest: Digest, options: OpenOptions): Promise<BlobContent> {
    const registry = this.clients.for(mapping.upstream);
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) {
        // Someone (this process or another replica) may have stored it meanwhile.
        try {
          return await this.inner.open(name, digest, options);
        } catch (e) {
          if (!RegistryError.is(e, 'BLOB_UNKNOWN')) throw e;
        }
      }
      // The bytes may be here already, under another repository: link them, once the upstream
      // confirms this name has the blob (a digest alone must not open another repository's blob).
      if (await this.inner.exists(digest)) {
        if ((await registry.headBlob(mapping.remoteName, digest)) === undefined) break;
        await this.inner.putBlob(name, Readable.from([]), digest);
        return this.inner.open(name, digest, options);
      }
      const running = this.inflight.get(digest);
      if (running) {
        await running.catch(() => undefined);
        continue;
      }
      const lockKey = upstreamKeys(this.keys).fetchLock(digest);
      const token = randomUUID();
      if (!(await this.redis.set(lockKey, token, 'PX', this.lockTtlMs, 'NX'))) {
        await this.waitForOtherReplica(lockKey, digest);
        continue;
      }
      const content = await this.fetch(mapping, name, digest, lockKey, token);
      // A range, or an upstream that did not say the size: serve from the stored copy.
      if (options.range || !content) {
        content?.stream?.destroy();
        await this.inflight.get(digest)?.catch(() => undefined);
        continue;
      }
      return content;
    }
    throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry and its upstream', { digest, upstream: mapping.upstream.id });
  }

  /** Start the upstream GET and the store; returns the client's branch (undefined without a size). */
  private async fetch(
    mapping: UpstreamMapping,
    name: string,
    digest: Digest,
    lockKey: string,
    token: string,
  ): Promise<BlobContent | undefined> {
    const renew = setInterval(() => void this.redis.pexpire(lockKey, this.lockTtlMs).catch(() => undefined), this.lockTtlMs / 3);
    const release = async () => {
      clearInterval(renew);
      await this.redis.eval(RELEASE, 1, lockKey, token).catch(() => undefined);
    };
    let remote;
    try {
      remote = await this.clients.for(mapping.upstream).getBlob(mapping.remoteName, digest);
    } catch (e) {
      await release();
      throw e;
    }
    const [toClient, toStore] = tee(remote.stream);
    const stored = this.inner.putBlob(name, toStore, digest, remote.size).finally(async () => {
      this.inflight.delete(digest);
      await release();
    });
    this.inflight.set(digest, stored);
    stored.catch((e) => this.logger.warn(`storing ${digest} from upstream ${mapping.upstream.id} failed: ${(e as Error).message}`));
    if (remote.size === undefined) {
      toClient.destroy();
      return undefined;
    }
    return { info: { digest, size: remote.size }, stream: toClient };
  }

  private async waitForOtherReplica(lockKey: string, digest: Digest): Promise<void> {
    const deadline = Date.now() + this.waitMs;
    while (Date.now() < deadline) {
      if (await this.inner.exists(digest)) return;
      if (!(await this.redis.exists(lockKey))) return;
      await sleep(200);
    }
    throw new RegistryError('UNAVAILABLE', 'timed out waiting for another replica to fetch the blob', { digest });
  }

  startUpload(name: string): Promise<UploadStatus> {
    return this.inner.startUpload(name);
  }
  uploadStatus(name: string, id: string): Promise<UploadStatus> {
    return this.inner.uploadStatus(name, id);
  }
  appendChunk(name: string, id: string, body: Readable, range?: ByteRange, length?: number): Promise<UploadStatus> {
    return this.inner.appendChunk(name, id, body, range, length);
  }
  completeUpload(name: string, id: string, digest: Digest, body?: Readable, length?: number): Promise<BlobInfo> {
    return this.inner.completeUpload(name, id, digest, body, length);
  }
  cancelUpload(name: string, id: string): Promise<void> {
    return this.inner.cancelUpload(name, id);
  }
  mount(name: string, from: string, digest: Digest): Promise<BlobInfo | undefined> {
    return this.inner.mount(name, from, digest);
  }
  putBlob(name: string, body: Readable, expected?: Digest, sizeHint?: number): Promise<BlobInfo> {
    return this.inner.putBlob(name, body, expected, sizeHint);
  }
  unlink(name: string, digest: Digest): Promise<void> {
    return this.inner.unlink(name, digest);
  }
  exists(digest: Digest): Promise<BlobInfo | undefined> {
    return this.inner.exists(digest);
  }
  storeContent(digest: Digest, bytes: Buffer): Promise<void> {
    return this.inner.storeContent(digest, bytes);
  }
  readContent(digest: Digest): Promise<Buffer | undefined> {
    return this.inner.readContent(digest);
  }
  reindex(): Promise<number> {
    return this.inner.reindex();
  }
}
