// Container file contents in storage, addressed by sha256 under `containers/content/`: outside the
// blob namespace, so registry GC never sweeps bytes a container still refers to.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { DigestStream, digestHex, type Digest } from '@stevedore/oci';
import type { StorageDriver } from '@stevedore/storage';
import type { ContentRef, ContentStore } from '@stevedore/unionfs';

export const ContainerPaths = {
  content: (d: Digest) => `containers/content/sha256/${digestHex(d).slice(0, 2)}/${digestHex(d)}`,
  tmp: () => `containers/tmp/${randomUUID()}/data`,
  state: (id: string) => `containers/records/${id}/state.json`,
  records: 'containers/records/',
  layerIndex: (d: Digest) => `containers/layers/sha256/${digestHex(d)}/index.json`,
} as const;

export class StorageContentStore implements ContentStore {
  private anchored?: Promise<void>;
  constructor(private readonly storage: StorageDriver) {}

  async put(data: Readable | Uint8Array | string): Promise<ContentRef> {
    const source = typeof data === 'string' || data instanceof Uint8Array ? Readable.from([Buffer.from(data)]) : data;
    const hash = new DigestStream();
    // Each put has its own temporary directory: the filesystem driver prunes empty directories on
    // delete, which would race a sibling put creating its temporary file in a shared one.
    // ...and a permanent file keeps their shared parent from being pruned under a sibling's mkdir.
    await (this.anchored ??= this.storage.putContent('containers/tmp/.keep', ''));
    const tmp = ContainerPaths.tmp();
    source.on('error', (e) => hash.destroy(e));
    await this.storage.writeStream(tmp, source.pipe(hash));
    const digest = hash.digest();
    const final = ContainerPaths.content(digest);
    if (await this.storage.stat(final)) await this.storage.delete(tmp);
    else await this.storage.move(tmp, final);
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
