// pigz-style gzip: the stream is cut into fixed-size blocks, each compressed as its own gzip member
// on libuv's thread pool, and the members are written in order. Concatenated members are one valid
// gzip stream (RFC 1952) that docker, containerd, skopeo and umoci read; fixed block size and level
// make the bytes, and so the digest, deterministic.
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

export interface ParallelGzipOptions {
  level?: number;
  /** Uncompressed bytes per member (default 1 MiB). */
  blockSize?: number;
  /** Members compressed at once (default 4, libuv's default thread pool). */
  parallel?: number;
}

export class ParallelGzip extends Transform {
  private readonly level: number;
  private readonly blockSize: number;
  private readonly parallel: number;
  private block: Buffer[] = [];
  private blockBytes = 0;
  private readonly inflight: Array<Promise<Buffer>> = [];

  constructor(options: ParallelGzipOptions = {}) {
    super();
    this.level = options.level ?? 1;
    this.blockSize = options.blockSize ?? 1 << 20;
    this.parallel = options.parallel ?? 4;
  }

  private cut(): void {
    if (this.blockBytes === 0) return;
    const data = Buffer.concat(this.block, this.blockBytes);
    this.block = [];
    this.blockBytes = 0;
    // One output buffer that holds the whole member (incompressible input grows a little): zlib's
    // default 16 KiB chunks cost a thread-pool round trip and an allocation each, ~64 per member.
    const p = gzipAsync(data, { level: this.level, chunkSize: data.length + (data.length >> 4) + 1024 });
    p.catch(() => undefined);
    this.inflight.push(p);
  }

  private async drain(keep: number): Promise<void> {
    while (this.inflight.length > keep) this.push(await this.inflight.shift()!);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.blockSize - this.blockBytes, chunk.length - offset);
      this.block.push(chunk.subarray(offset, offset + take));
      this.blockBytes += take;
      offset += take;
      if (this.blockBytes === this.blockSize) this.cut();
    }
    this.drain(this.parallel - 1).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.cut();
    // An empty input still makes one (empty) member, so the output is always a gzip stream.
    if (this.inflight.length === 0) this.inflight.push(gzipAsync(Buffer.alloc(0), { level: this.level }));
    this.drain(0).then(() => cb(), cb);
  }
}
