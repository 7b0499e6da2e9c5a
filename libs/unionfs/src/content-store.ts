// Where file bytes live. Layers and read-write layers refer to content by digest only, so the
// containers service can keep bytes in blob storage while the index stays small.
import { Readable } from 'node:stream';
import { Digester, type Digest } from '@stevedore/oci';

export interface ContentRef {
  digest: Digest;
  size: number;
}

export interface ContentStore {
  /** Store bytes and return their digest; the stream is consumed to the end. */
  put(data: Readable | Uint8Array | string): Promise<ContentRef>;
  open(digest: Digest): Readable | Promise<Readable>;
  has(digest: Digest): boolean | Promise<boolean>;
}

/** Content in memory, for tests and small trees. */
export class MemoryContentStore implements ContentStore {
  private readonly blobs = new Map<string, Buffer>();

  async put(data: Readable | Uint8Array | string): Promise<ContentRef> {
    const d = new Digester();
    const chunks: Buffer[] = [];
    const source = typeof data === 'string' || data instanceof Uint8Array ? [Buffer.from(data)] : data;
    for await (const chunk of source as AsyncIterable<Buffer> | Buffer[]) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      d.update(b);
      chunks.push(b);
    }
    const digest = d.digest();
    this.blobs.set(digest, Buffer.concat(chunks));
    return { digest, size: d.size };
  }

  open(digest: Digest): Readable {
    const data = this.blobs.get(digest);
    if (!data) throw new Error(`content ${digest} is not in the store`);
    return Readable.from([data]);
  }

  has(digest: Digest): boolean {
    return this.blobs.has(digest);
  }

  /** The bytes themselves; convenient in tests. */
  get(digest: Digest): Buffer | undefined {
    return this.blobs.get(digest);
  }
}
