// Bytes from a client, through a transform that digests or counts them, into a storage write.
import { PassThrough, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Pipe `body` through `through` into the storage write `write` starts on the stream it is given.
 * On any failure, waits for the write to let go of what it was writing (a temporary file, an open
 * handle) before the error goes up, so what the caller cleans up next is not still being written.
 */
export async function writeThrough(body: Readable, through: Transform, write: (out: Readable) => Promise<unknown>): Promise<void> {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const writing = write(out);
  try {
    await Promise.all([pipeline(body, through, out), writing]);
  } catch (e) {
    out.destroy();
    await writing.catch(() => undefined);
    throw e;
  }
}
