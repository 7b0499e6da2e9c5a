// In-memory blob and metadata services and storage, with the real services' rules that the images
// domain relies on (digest checks, manifest references must exist, tags point at known manifests).
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import {
  RegistryError,
  digestOf,
  isDigest,
  parseManifest,
  type Digest,
  manifestReference,
  referenceOf,
  type LocalReference,
} from '@stevedore/oci';
import type { BlobContent, BlobInfo, BlobService } from '@stevedore/blobs';
import type { MetadataService, Page, StoredManifest } from '@stevedore/metadata';
import type { FileInfo, StorageDriver } from '@stevedore/storage';

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

const nope = (): never => {
  throw new Error('not implemented in the fake');
};

export class MemoryBlobs implements BlobService {
  readonly bytes = new Map<string, Buffer>();
  readonly links = new Map<string, Set<string>>();
  puts = 0;
  private linked(name: string): Set<string> {
    let s = this.links.get(name);
    if (!s) this.links.set(name, (s = new Set()));
    return s;
  }
  async stat(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    const b = this.bytes.get(digest);
    return b && this.linked(name).has(digest) ? { digest, size: b.length } : undefined;
  }
  async open(name: string, digest: Digest): Promise<BlobContent> {
    const info = await this.stat(name, digest);
    if (!info) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
    return { info, stream: Readable.from([this.bytes.get(digest) ?? Buffer.alloc(0)]) };
  }
  async putBlob(name: string, body: Readable, expected?: Digest): Promise<BlobInfo> {
    const b = await readAll(body);
    const digest = digestOf(b);
    if (expected && expected !== digest) throw new RegistryError('DIGEST_INVALID', 'digest mismatch', { expected, actual: digest });
    if (!this.bytes.has(digest)) this.puts++;
    this.bytes.set(digest, b);
    this.linked(name).add(digest);
    return { digest, size: b.length };
  }
  async mount(name: string, from: string, digest: Digest): Promise<BlobInfo | undefined> {
    const info = await this.stat(from, digest);
    if (info) this.linked(name).add(digest);
    return info;
  }
  async exists(digest: Digest): Promise<BlobInfo | undefined> {
    const b = this.bytes.get(digest);
    return b ? { digest, size: b.length } : undefined;
  }
  async unlink(name: string, digest: Digest): Promise<void> {
    this.linked(name).delete(digest);
  }
  startUpload = nope;
  uploadStatus = nope;
  appendChunk = nope;
  completeUpload = nope;
  cancelUpload = nope;
  reindex = nope;
  storeContent = nope;
  readContent = nope;
}

export class MemoryMetadata implements MetadataService {
  readonly manifests = new Map<string, StoredManifest>();
  readonly revisions = new Map<string, Set<string>>();
  readonly tags = new Map<string, Map<string, Digest>>();
  constructor(private readonly blobs: MemoryBlobs) {}
  private revs(name: string) {
    let s = this.revisions.get(name);
    if (!s) this.revisions.set(name, (s = new Set()));
    return s;
  }
  private tagMap(name: string) {
    let m = this.tags.get(name);
    if (!m) this.tags.set(name, (m = new Map()));
    return m;
  }
  async getManifest(ref: LocalReference): Promise<StoredManifest> {
    const name = ref.name;
    const reference = referenceOf(ref);
    const d = isDigest(reference) ? (this.revs(name).has(reference) ? reference : undefined) : this.tagMap(name).get(reference);
    const m = d && this.manifests.get(d);
    if (!m) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { name, reference });
    return m;
  }
  async putManifest(ref: LocalReference, bytes: Buffer, contentType: string | undefined) {
    const name = ref.name;
    const reference = referenceOf(ref);
    const p = parseManifest(bytes, contentType);
    const missing = [];
    for (const r of p.references) if (!this.revs(name).has(r.digest) && !(await this.blobs.stat(name, r.digest))) missing.push(r.digest);
    if (missing.length) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'missing', { missing });
    if (isDigest(reference) && reference !== p.digest) throw new RegistryError('DIGEST_INVALID', 'manifest digest');
    this.manifests.set(p.digest, { digest: p.digest, mediaType: p.mediaType, size: bytes.length, bytes });
    this.revs(name).add(p.digest);
    if (!isDigest(reference)) this.tagMap(name).set(reference, p.digest);
    return { digest: p.digest, mediaType: p.mediaType };
  }
  async deleteManifest(name: string, digest: Digest) {
    if (!this.revs(name).delete(digest)) throw new RegistryError('MANIFEST_UNKNOWN', 'unknown');
    for (const [t, d] of this.tagMap(name)) if (d === digest) this.tagMap(name).delete(t);
  }
  async deleteTag(name: string, tag: string) {
    if (!this.tagMap(name).delete(tag)) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { name, tag });
  }
  async tagManifest(name: string, tag: string, digest: Digest) {
    if (!this.revs(name).has(digest)) throw new RegistryError('MANIFEST_UNKNOWN', 'unknown', { name, digest });
    this.tagMap(name).set(tag, digest);
  }
  private page(all: string[], n?: number, last?: string): Page<string> {
    const items = all.sort().filter((x) => !last || x > last);
    const limit = n ?? 10_000;
    if (items.length > limit) return { items: items.slice(0, limit), next: items[limit - 1] };
    return { items };
  }
  async listTags(name: string, n?: number, last?: string) {
    if (!this.revisions.has(name)) throw new RegistryError('NAME_UNKNOWN', 'unknown', { name });
    return this.page([...this.tagMap(name).keys()], n, last);
  }
  async tagsOf(name: string, digest: Digest) {
    return [...this.tagMap(name)]
      .filter(([, d]) => d === digest)
      .map(([t]) => t)
      .sort();
  }
  async catalog(n?: number, last?: string) {
    return this.page([...this.revisions.keys()], n, last);
  }
  /** name:tag -> digest, for asserting what is tagged. */
  tagged(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, m] of this.tags) for (const [t, d] of m) out[`${name}:${t}`] = d;
    return out;
  }
  referrers = nope;
  tagHistory = nope;
  imageIds = nope;
  imageHolders = nope;
  reindex = nope;
}

export class MemoryStorage implements Partial<StorageDriver> {
  readonly name = 'memory';
  readonly objects = new Map<string, Buffer>();
  async stat(path: string): Promise<FileInfo | undefined> {
    const b = this.objects.get(path);
    return b ? { path, size: b.length, modTime: new Date() } : undefined;
  }
  async reader(path: string): Promise<Readable> {
    const b = this.objects.get(path);
    if (!b) throw new Error(`path not found: ${path}`);
    return Readable.from([b]);
  }
  async writeStream(path: string, source: Readable): Promise<number> {
    const b = await readAll(source);
    this.objects.set(path, b);
    return b.length;
  }
  async delete(path: string): Promise<void> {
    this.objects.delete(path);
  }
}

export function memoryServices() {
  const blobs = new MemoryBlobs();
  const metadata = new MemoryMetadata(blobs);
  const storage = new MemoryStorage();
  // Cast: MemoryStorage implements the StorageDriver methods these fakes use, not all of them.
  return { blobs, metadata, storage: storage as unknown as StorageDriver & MemoryStorage };
}

/** A real tar of the given files (layers and rootfs tarballs must be real for umoci and docker). */
export async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mtime: new Date(0), mode: 0o644 }, body);
  pack.finalize();
  // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Readable types.
  return readAll(pack as unknown as Readable);
}

export async function gzip(b: Buffer): Promise<Buffer> {
  return readAll(Readable.from([b]).pipe(createGzip()));
}

/** Push an image made of real gzip'd tar layers; returns its manifest digest. */
export async function pushImage(
  svc: { blobs: MemoryBlobs; metadata: MemoryMetadata },
  name: string,
  tag: string | undefined,
  layerFiles: Array<Record<string, string>>,
  extra: { created?: string; history?: unknown[]; config?: Record<string, unknown> } = {},
): Promise<{ digest: Digest; configDigest: Digest; layers: Digest[] }> {
  const diffIds: string[] = [];
  const layers = [];
  for (const files of layerFiles) {
    const t = await tarOf(files);
    diffIds.push(digestOf(t));
    const gz = await gzip(t);
    const info = await svc.blobs.putBlob(name, Readable.from([gz]));
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: info.digest, size: info.size });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: extra.created ?? '2024-05-01T00:00:00Z',
      config: extra.config ?? { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      ...(extra.history ? { history: extra.history } : {}),
    }),
  );
  const c = await svc.blobs.putBlob(name, Readable.from([config]));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
      layers,
    }),
  );
  const put = await svc.metadata.putManifest(
    manifestReference(name, tag ?? digestOf(manifest)),
    manifest,
    'application/vnd.oci.image.manifest.v1+json',
  );
  return { digest: put.digest, configDigest: c.digest, layers: layers.map((l) => l.digest) };
}
