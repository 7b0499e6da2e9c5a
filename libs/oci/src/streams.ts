// The stream helpers every byte path shares: one capped whole-body reader, a byte limit and a byte
// counter in the middle of a pipeline.
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { RegistryError, type ErrorCode } from './errors';

/**
 * Read a whole (small) stream, refusing more than `limit` bytes without buffering past it: the
 * stream is destroyed and `code` raised (PAYLOAD_TOO_LARGE answers 413, other codes their own status).
 */
export async function readCapped(stream: Readable, limit: number, code: ErrorCode = 'PAYLOAD_TOO_LARGE', what = 'body'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      stream.destroy();
      throw new RegistryError(
        code,
        `${what} exceeds the limit of ${limit} bytes`,
        { limit },
        code === 'PAYLOAD_TOO_LARGE' ? 413 : undefined,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

/** Passes bytes through and fails with PAYLOAD_TOO_LARGE once more than `limit` have passed. */
export class ByteLimit extends Transform {
  bytes = 0;
  constructor(
    private readonly limit: number,
    private readonly what: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      cb(new RegistryError('PAYLOAD_TOO_LARGE', `${this.what} exceeds the limit of ${this.limit} bytes`, { limit: this.limit }, 413));
      return;
    }
    cb(null, chunk);
  }
}

/** Counts bytes as they pass and reports them (throttled by the caller). */
export class ByteCounter extends Transform {
  bytes = 0;
  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }
}
