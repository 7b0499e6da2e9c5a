// The in-process ContainerService: records and read-write layers in Redis (one JSON value per
// container, changed under a per-container lock) with a durable copy in storage; file contents in
// the content store; the image's layers read through the blob and metadata services (pull-through
// when the process wires UpstreamModule). Lower layers are only ever read.
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type Redis from 'ioredis';
import { DigestGuard, type BlobQuota, type BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import type { ImageService } from '@stevedore/images';
import { RegistryError, parseManifest, type Digest, type ImageManifest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { DEFAULT_EXPANSION, MergedView, ReadWriteLayer, Tree, changesOf, cleanPath, diff, readLayer, type Entry } from '@stevedore/unionfs';
import { applyLayer } from './apply-layer';
import { StorageContentStore } from './content-store';
import { CONTENT_GUARD_FAMILY, ContainerPaths, containerKeys } from './container-layout';
import { generateContainerName } from './container-names';
import { ContainerCollector } from './container-collector';
import {
  viewOf,
  type Change,
  type ContainerImage,
  type ContainerSnapshot,
  type ContainerState,
  type ContainerView,
  type FileOp,
  type FileOptions,
  type TarMode,
} from './container';
import type {
  ContainerCollectOptions,
  ContainerCollectReport,
  ContainerService,
  CreateContainerOptions,
  UploadOptions,
  BrowsedEntry,
  ImageBrowse,
  SizedChange,
} from './container-service';
import { containerNotFound, mapErrors } from './errors';
import { LAYER_INDEX_CACHE_BYTES, LowerLayers } from './lower-layers';

const ID_RE = /^[a-f0-9]{12,64}$/;
// Compare-and-set and compare-and-delete of a name key: only the id holding it changes it.
const SWAP_IF = "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2]) return 1 end return 0";
const DEL_IF = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

/** What one archive upload may become (STEVEDORE_MAX_CONTAINER_ARCHIVE_BYTES, STEVEDORE_MAX_EXPANSION_RATIO). */
export interface ArchiveLimits {
  maxBytes: number;
  maxExpansionRatio: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = { maxBytes: 2 ** 30, maxExpansionRatio: 100 };
const LOCK_MS = 30_000;

export class ContainerStore implements ContainerService {
  readonly content: StorageContentStore;
  private readonly lower: LowerLayers;
  private readonly contentGuard: DigestGuard;
  private readonly collector: ContainerCollector;

  constructor(
    private readonly images: ImageService,
    private readonly metadata: MetadataService,
    blobs: BlobService,
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
    /** Namespace quotas (libs/gc): file contents count against the owner's namespace, as blobs do. */
    private readonly quota?: BlobQuota,
    /** Bytes of layer indexes kept in memory (LowerLayers). */
    layerIndexCacheBytes = LAYER_INDEX_CACHE_BYTES,
  ) {
    this.k = containerKeys(keys);
    this.contentGuard = new DigestGuard(redis, keys, 60_000, CONTENT_GUARD_FAMILY);
    this.content = new StorageContentStore(storage, this.contentGuard);
    const layerKeys = { cache: this.k.layerIndex, used: this.k.layerUsed };
    this.lower = new LowerLayers(blobs, storage, redis, layerKeys, this.content, layerIndexCacheBytes);
    this.collector = new ContainerCollector({
      storage,
      redis,
      guard: this.contentGuard,
      lower: this.lower,
      layerKeys,
      states: () => this.storedStates(),
    });
  }

  private readonly k: ReturnType<typeof containerKeys>;
  private stateKey(id: string): string {
    return this.k.state(id);
  }
  private lockKey(id: string): string {
    return this.k.lock(id);
  }
  private get indexKey(): string {
    return this.k.ids();
  }

  // ---- lifecycle

  async create(options: CreateContainerOptions): Promise<ContainerView> {
    if (options.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(options.name)) {
      throw new RegistryError('INVALID_REQUEST', `invalid container name "${String(options.name).slice(0, 130)}"`);
    }
    const image = await this.resolveImage(options.image);
    // Stamped before the record exists, so a GC run that misses the record keeps the layers' indexes.
    await this.lower.touch(image);
    // Index the lower layers now, so a missing or unreadable layer fails the create, not a later read.
    await this.lower.view(image);
    const id = randomBytes(32).toString('hex');
    const state: ContainerState = {
      record: { id, image, createdAt: new Date().toISOString(), paused: false, pausedBy: [], generation: 0 },
      entries: [],
    };
    if (options.owner) state.record.owner = options.owner;
    state.record.name = await this.nameFor(id, options.owner, options.name);
    try {
      await this.save(state);
    } catch (e) {
      await this.releaseName(options.owner, state.record.name, id).catch(() => undefined);
      throw e;
    }
    await this.redis.zadd(this.indexKey, Date.now(), id);
    return viewOf(state);
  }

  /** The name asked for, claimed for `id`, or (none asked) a generated Docker-style one. */
  private async nameFor(id: string, owner: string | undefined, asked: string | undefined): Promise<string> {
    if (asked !== undefined) {
      if (await this.claimName(owner, asked, id)) return asked;
      const holder = await this.redis.get(this.k.name(owner ?? '', asked));
      // Docker's words, so scripts written against it match.
      throw new RegistryError(
        'CONFLICT',
        `Conflict. The container name "/${asked}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
        { name: asked, id: holder },
      );
    }
    for (let attempt = 0; attempt < 10; attempt++) {
      const name = generateContainerName(attempt);
      if (await this.claimName(owner, name, id)) return name;
    }
    throw new RegistryError('UNAVAILABLE', 'no free container name was found; give one with "name"');
  }

  /** Claims `name` for `id` among its owner's containers; false while another container holds it. */
  private async claimName(owner: string | undefined, name: string, id: string): Promise<boolean> {
    const key = this.k.name(owner ?? '', name);
    if ((await this.redis.set(key, id, 'NX')) === 'OK') return true;
    const holder = await this.redis.get(key);
    if (holder === id) return true;
    if (holder === null) return (await this.redis.set(key, id, 'NX')) === 'OK';
    // A holder whose record is gone (removed while its name key was not) gives the name up.
    const alive = await this.load(holder).then(
      () => true,
      (e: unknown) => !(e instanceof RegistryError && e.code === 'NOT_FOUND'),
    );
    if (alive) return false;
    return (await this.redis.eval(SWAP_IF, 1, key, holder, id)) === 1;
  }

  private async releaseName(owner: string | undefined, name: string | undefined, id: string): Promise<void> {
    if (name) await this.redis.eval(DEL_IF, 1, this.k.name(owner ?? '', name), id);
  }

  private async resolveImage(reference: string): Promise<ContainerImage> {
    let m = await this.images.resolve(reference);
    if (m.parsed.isIndex) {
      const refs = m.parsed.references;
      const pick =
        refs.find((d) => d.platform?.os === 'linux' && d.platform?.architecture === 'amd64') ??
        refs.find((d) => d.platform?.os !== 'unknown') ??
        refs[0];
      if (!pick) throw new RegistryError('MANIFEST_INVALID', `${reference} is an empty index`);
      const child = await this.metadata.getManifest({ name: m.name, digest: pick.digest as Digest });
      m = {
        ...m,
        digest: child.digest,
        mediaType: child.mediaType,
        bytes: child.bytes,
        parsed: parseManifest(child.bytes, child.mediaType),
      };
    }
    const manifest = m.parsed.parsed as ImageManifest;
    // Read the config here too: it checks it, and on a pull-through it brings it local before a commit needs it.
    await this.images.config(m.name, manifest);
    return {
      reference,
      repository: m.name,
      manifestDigest: m.digest,
      configDigest: manifest.config.digest as Digest,
      layers: manifest.layers.map((l) => l.digest as Digest),
    };
  }

  async list(): Promise<ContainerView[]> {
    let ids = await this.redis.zrange(this.indexKey, '0', '-1');
    // An empty index after Redis was lost: storage is the truth, rebuild from it.
    if (ids.length === 0) ids = await this.reindex();
    const out: ContainerView[] = [];
    for (const id of ids) {
      const s = await this.load(id).catch(() => undefined);
      if (s) out.push(viewOf(s));
    }
    return out;
  }

  /** Rebuild the container index from the durable records; returns the ids found. */
  async reindex(): Promise<string[]> {
    const ids: string[] = [];
    for await (const f of this.storage.list(ContainerPaths.records)) {
      const m = /containers\/records\/([a-f0-9]{64})\/state\.json$/.exec(f.path);
      if (m) ids.push(m[1]);
    }
    for (const id of ids) await this.load(id, true).catch(() => undefined);
    return await this.redis.zrange(this.indexKey, '0', '-1');
  }

  async inspect(id: string): Promise<ContainerView> {
    return viewOf(await this.load(id));
  }

  /** The record goes; its files' contents stay until the container GC finds nothing else uses them. */
  async remove(id: string): Promise<void> {
    await this.locked(id, async () => {
      const s = await this.load(id);
      if (s.record.pausedBy.length > 0)
        throw new RegistryError('CONFLICT', `container ${id} is being committed`, { pausedBy: s.record.pausedBy });
      await this.storage.delete(ContainerPaths.state(id));
      await this.redis.del(this.stateKey(id));
      await this.redis.zrem(this.indexKey, id);
      await this.releaseName(s.record.owner, s.record.name, id);
    });
  }

  // ---- writes

  async writeFile(id: string, path: string, body: Readable, options: FileOptions = {}): Promise<Entry> {
    await this.writable(await this.load(id));
    const s = await this.load(id);
    await this.writable(s);
    // Bytes first (outside the lock: they may be large); the entry is added under the lock.
    const ref = await this.content.put(body);
    return this.mutate(id, (rw) => rw.writeFile(path, ref, options));
  }

  async apply(id: string, op: FileOp): Promise<Entry | undefined> {
    return this.mutate(id, (rw) => {
      switch (op.op) {
        case 'mkdir':
          return rw.mkdir(op.path, { parents: op.parents, mode: op.mode, uid: op.uid, gid: op.gid });
        case 'symlink':
          return rw.symlink(op.target, op.path);
        case 'chmod':
          return rw.chmod(op.path, op.mode);
        case 'chown':
          return rw.chown(op.path, op.uid, op.gid);
        case 'remove':
          rw.remove(op.path, { recursive: op.recursive });
          return undefined;
        case 'rename':
          rw.rename(op.from, op.to);
          return rw.lookup(op.to);
      }
    });
  }

  async uploadTar(id: string, body: Readable, mode: TarMode, options: UploadOptions = {}): Promise<{ entries: number }> {
    const s = await this.load(id);
    await this.writable(s);
    const read = await mapErrors(() =>
      readLayer(body, {
        contentStore: this.content,
        overlayWhiteouts: mode === 'overlay',
        allowDevices: options.allowDevices,
        limits: { maxTotalSize: this.limits.maxBytes },
        expansion: { ...DEFAULT_EXPANSION, maxBytes: this.limits.maxBytes, maxRatio: this.limits.maxExpansionRatio },
      }),
    );
    let count = 0;
    await this.mutate(id, (rw, state) => {
      if (mode === 'overlay') {
        count = applyLayer(rw, read.layer);
        return;
      }
      if (read.layer.entries.some((e) => e.type === 'whiteout' || e.opaque)) {
        throw new RegistryError('INVALID_REQUEST', 'a rootfs snapshot holds no whiteouts; upload it with mode=overlay');
      }
      // The snapshot is the whole filesystem: the read-write layer becomes its difference to the image.
      const fresh = new ReadWriteLayer(rw.lower);
      const changes = diff(rw.lower, new Tree(read.layer.entries));
      count = applyLayer(fresh, changes);
      state.entries = fresh.toJSON().entries;
      return 'replaced';
    });
    return { entries: count };
  }

  // ---- reads

  async stat(id: string, path: string): Promise<Entry> {
    const rw = await this.layer(await this.load(id));
    return mapErrors(() => rw.stat(path));
  }

  async readFile(id: string, path: string): Promise<{ entry: Entry; stream: Readable }> {
    const rw = await this.layer(await this.load(id));
    let entry = await mapErrors(() => rw.stat(path));
    if (entry.type === 'hardlink') entry = await mapErrors(() => rw.stat(entry.linkname ?? ''));
    if (entry.type !== 'file')
      throw new RegistryError('INVALID_REQUEST', `/${entry.path} is a ${entry.type}, not a file`, {
        type: entry.type,
        linkname: entry.linkname,
      });
    if (entry.size === 0 || !entry.digest) return { entry, stream: Readable.from([]) };
    return { entry, stream: await this.content.open(entry.digest) };
  }

  async listDir(id: string, path: string): Promise<Entry[]> {
    const rw = await this.layer(await this.load(id));
    const dir = await mapErrors(() => rw.stat(path));
    if (dir.type !== 'directory') throw new RegistryError('INVALID_REQUEST', `/${dir.path} is not a directory`);
    return rw.list(path);
  }

  async browseImage(reference: string, path: string): Promise<ImageBrowse> {
    const clean = cleanPath(path);
    if (clean === undefined) throw new RegistryError('INVALID_REQUEST', `path ${path.slice(0, 200)} climbs out of the root`);
    const image = await this.resolveImage(reference);
    const view = await this.lower.view(image);
    const entry = view.lookup(clean);
    if (!entry) throw new RegistryError('NOT_FOUND', `no such file or directory in ${reference}: /${clean}`, { path: `/${clean}` });
    const browsed = (e: Entry): BrowsedEntry => {
      const o = view.origin(e.path);
      return { ...e, layer: o.layer ?? null, shadows: o.shadows };
    };
    return {
      repository: image.repository,
      manifestDigest: image.manifestDigest,
      layers: image.layers,
      entry: browsed(entry),
      children: entry.type === 'directory' ? view.list(clean).map(browsed) : [],
    };
  }

  async readImageFile(reference: string, path: string): Promise<{ entry: BrowsedEntry; stream: Readable }> {
    const clean = cleanPath(path);
    if (clean === undefined) throw new RegistryError('INVALID_REQUEST', `path ${path.slice(0, 200)} climbs out of the root`);
    const image = await this.resolveImage(reference);
    const view = await this.lower.view(image);
    const missing = (p: string) => new RegistryError('NOT_FOUND', `no such file in ${reference}: /${p}`, { path: `/${p}` });
    let entry = view.lookup(clean);
    if (!entry) throw missing(clean);
    // A hard link's bytes are its target's (the index records the content on the target only).
    if (entry.type === 'hardlink') {
      const target = cleanPath(entry.linkname ?? '');
      entry = target === undefined ? undefined : view.lookup(target);
      if (!entry) throw missing(clean);
    }
    if (entry.type !== 'file')
      throw new RegistryError('INVALID_REQUEST', `/${entry.path} is a ${entry.type}, not a file`, {
        type: entry.type,
        linkname: entry.linkname,
      });
    const o = view.origin(entry.path);
    const browsed: BrowsedEntry = { ...entry, layer: o.layer ?? null, shadows: o.shadows };
    if (entry.size === 0 || !entry.digest) return { entry: browsed, stream: Readable.from([]) };
    return { entry: browsed, stream: await this.content.open(entry.digest) };
  }

  async imageChanges(reference: string, options: { layer?: number; from?: string }): Promise<SizedChange[]> {
    const image = await this.resolveImage(reference);
    const layers = await Promise.all(image.layers.map((d) => this.lower.layer(image.repository, d)));
    let lower: MergedView;
    let upper: Iterable<Entry>;
    let after: MergedView;
    if (options.from !== undefined) {
      const from = await this.resolveImage(options.from);
      lower = await this.lower.view(from);
      after = await this.lower.view(image);
      upper = diff(lower, after).entries;
    } else {
      const n = options.layer ?? layers.length - 1;
      if (!Number.isInteger(n) || n < 0 || n >= layers.length)
        throw new RegistryError('INVALID_REQUEST', `${reference} has layers 0 to ${layers.length - 1}, not ${options.layer}`, {
          layers: layers.length,
        });
      lower = new MergedView(layers.slice(0, n));
      after = new MergedView(layers.slice(0, n + 1));
      upper = layers[n].entries();
    }
    return changesOf(lower, upper).map((c) => {
      if (c.kind === 'D') return c;
      const e = after.lookup(c.path.slice(1));
      return e ? { ...c, type: e.type, size: e.type === 'file' ? e.size : 0 } : c;
    });
  }

  async diff(id: string): Promise<Change[]> {
    return (await this.layer(await this.load(id))).changes();
  }

  // ---- pause

  async pause(id: string): Promise<ContainerView> {
    return this.setPaused(id, (s) => (s.record.paused = true));
  }

  async unpause(id: string): Promise<ContainerView> {
    return this.setPaused(id, (s) => (s.record.paused = false));
  }

  async snapshot(id: string, holder?: string): Promise<ContainerSnapshot> {
    return this.locked(id, async () => {
      const s = await this.load(id);
      if (holder && !s.record.pausedBy.includes(holder)) {
        s.record.pausedBy.push(holder);
        await this.save(s);
      }
      // The commit reads these contents after the lock is gone; a file replaced meanwhile (a commit
      // without pause) must outlive it, so its bytes are stamped as in use now.
      await this.contentGuard.touch(s.entries.flatMap((e) => (e.digest ? [e.digest] : [])));
      return { record: s.record, entries: s.entries };
    });
  }

  // ---- contents (for commit workers)

  readContent(digest: Digest): Promise<Buffer> {
    return this.content.readAll(digest);
  }

  async openContent(digest: Digest): Promise<{ stream: Readable }> {
    return { stream: await this.content.open(digest) };
  }

  // ---- garbage collection

  collect(options: ContainerCollectOptions): Promise<ContainerCollectReport> {
    return this.collector.collect(options);
  }

  /** Every state storage holds (the records are the truth; Redis may have lost some). */
  private async *storedStates(): AsyncIterable<ContainerState> {
    for await (const f of this.storage.list(ContainerPaths.records)) {
      if (!f.path.endsWith('/state.json')) continue;
      const json = await this.storage.getContent(f.path).catch(() => undefined);
      if (json) yield JSON.parse(json.toString()) as ContainerState;
    }
  }

  /** Count new contents of the read-write layer against the owner's namespace quota (DENIED past it: the change is not saved). */
  private async reserve(s: ContainerState, refs: Array<{ digest: Digest; size: number }>): Promise<void> {
    if (!this.quota || !s.record.owner) return;
    const seen = new Set<string>();
    for (const r of refs) {
      if (seen.has(r.digest)) continue;
      seen.add(r.digest);
      await this.quota.reserve(s.record.owner, r);
    }
  }

  async release(id: string, holder: string): Promise<void> {
    await this.locked(id, async () => {
      const s = await this.load(id).catch((e) => (RegistryError.is(e, 'NOT_FOUND') ? undefined : Promise.reject(e)));
      if (!s || !s.record.pausedBy.includes(holder)) return;
      s.record.pausedBy = s.record.pausedBy.filter((h) => h !== holder);
      await this.save(s);
    });
  }

  private async setPaused(id: string, fn: (s: ContainerState) => void): Promise<ContainerView> {
    return this.locked(id, async () => {
      const s = await this.load(id);
      fn(s);
      await this.save(s);
      return viewOf(s);
    });
  }

  // ---- state

  private async writable(s: ContainerState): Promise<void> {
    if (s.record.paused || s.record.pausedBy.length > 0) {
      const why = s.record.pausedBy.length > 0 ? `being committed (${s.record.pausedBy.join(', ')})` : 'paused';
      throw new RegistryError('CONFLICT', `container ${s.record.id} is ${why}; writes are refused until it is unpaused`, {
        state: 'paused',
        pausedBy: s.record.pausedBy,
      });
    }
  }

  private async layer(s: ContainerState): Promise<ReadWriteLayer> {
    return new ReadWriteLayer(await this.lower.view(s.record.image), { entries: s.entries });
  }

  /** Run `fn` on the read-write layer under the lock; save when it returns. */
  private async mutate<T>(id: string, fn: (rw: ReadWriteLayer, state: ContainerState) => T): Promise<T> {
    return this.locked(id, async () => {
      const s = await this.load(id);
      await this.writable(s);
      const rw = await this.layer(s);
      const before = new Set(s.entries.map((e) => e.digest));
      const out = await mapErrors(() => fn(rw, s));
      if ((out as unknown) !== 'replaced') s.entries = rw.toJSON().entries;
      await this.reserve(
        s,
        s.entries.filter((e) => e.type === 'file' && e.digest && !before.has(e.digest)) as Array<{ digest: Digest; size: number }>,
      );
      s.record.generation++;
      await this.save(s);
      return out;
    });
  }

  private async load(id: string, fromStorage = false): Promise<ContainerState> {
    if (typeof id !== 'string' || !ID_RE.test(id)) throw containerNotFound(id);
    const hit = fromStorage ? null : await this.redis.getBuffer(this.stateKey(id));
    if (hit) return JSON.parse(hit.toString()) as ContainerState;
    // Redis lost it (or never had it, after a reindex): the durable copy is the truth.
    const stored = await this.storage.getContent(ContainerPaths.state(id)).catch(() => undefined);
    if (!stored) throw containerNotFound(id);
    await this.redis.set(this.stateKey(id), stored);
    const s = JSON.parse(stored.toString()) as ContainerState;
    await this.redis.zadd(this.indexKey, Date.parse(s.record.createdAt) || Date.now(), id);
    if (s.record.name) await this.redis.set(this.k.name(s.record.owner ?? '', s.record.name), id, 'NX');
    return s;
  }

  private async save(s: ContainerState): Promise<void> {
    const json = Buffer.from(JSON.stringify(s));
    // Storage first: Redis never holds a state that a restart could lose.
    await this.storage.putContent(ContainerPaths.state(s.record.id), json);
    await this.redis.set(this.stateKey(s.record.id), json);
  }

  private async locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const key = this.lockKey(id);
    const token = randomUUID();
    const deadline = Date.now() + 20_000;
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      if ((await this.redis.set(key, token, 'PX', LOCK_MS, 'NX')) === 'OK') break;
      if (Date.now() > deadline) throw new RegistryError('UNAVAILABLE', `container ${id} is busy; try again`, { id });
      await new Promise((r) => setTimeout(r, wait));
    }
    try {
      return await fn();
    } finally {
      await this.redis
        .eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, key, token)
        .catch(() => undefined);
    }
  }
}
