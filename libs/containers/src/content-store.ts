// Container file contents in storage, addressed by sha256 under `containers/content/`: outside the
// blob namespace, so registry GC never sweeps bytes a container still refers to. Their own GC
// (ContainerCollector) removes what no container and no layer index refers to (paths: container-layout.ts); a put runs as a
// writer of its digest under a DigestGuard of its own key family, so a sweep never deletes bytes a
// put is storing or has just stored (the same protocol as blob pushes, see libs/blobs).
import { Readable } from 'node:stream';
import { DigestStream, type Digest } from '@stevedore/oci';
import { ContainerPaths } from './container-layout';
import type { DigestGuard } from '@stevedore/blobs';
import type { StorageDriver } from '@stevedore/storage';
import type { ContentRef, ContentStore } from '@stevedore/unionfs';

export class StorageContentStore implements ContentStore {
  private anchored?: Promise<void>;
  constructor(
    private readonly storage: StorageDriver,
    /** Writers' guard against the content GC (none: nothing collects this store). */
    private readonly guard?: DigestGuard,
  ) {}

  async put(data: Readable | Uint8Array | string): Promise<ContentRef> {
    const source = typeof data === 'string' || data instanceof Uint8Array ? Readable.from([Buffer.from(data)]) : data;
    const hash = new DigestStream();
    // Each put has its own temporary directory: the filesystem driver prunes empty directories on
    // delete, which would race a sibling put creating its temporary file in a shared one.
    // ...and a permanent file keeps their shared parent from being pruned under a sibling's mkdir.
    await (this.anchored ??= this.storage.putContent(ContainerPaths.tmpKeep, ''));
    const tmp = ContainerPaths.tmp();
    source.on('error', (e) => hash.destroy(e));
    await this.storage.writeStream(tmp, source.pipe(hash));
    const digest = hash.digest();
    const final = ContainerPaths.content(digest);
    const store = async () => {
      if (await this.storage.stat(final)) await this.storage.delete(tmp);
      else await this.storage.move(tmp, final);
    };
    // As a writer: a sweep of this digest finishes first (then the bytes are stored again), or
    // waits for this put, after which the digest's stamp is newer than any running sweep's cutoff.
    await (this.guard ? this.guard.hold([digest], store) : store());
    return { digest, size: hash.size };
  }

  /** A small file's bytes in one call (much cheaper than a stream for many small files). */
  readAll(digest: Digest): Promise<Buffer> {
    return this.storage.getContent(ContainerPaths.content(digest));
  }

  open(digest: Digest): Promise<Readable> {
    return this.storage.reader(ContainerPaths.content(digest));
  }

  async has(digest: Digest): Promise<boolean> {
    return !!(await this.storage.stat(ContainerPaths.content(digest)));
  }
}
