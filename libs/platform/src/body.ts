// Reading request bodies with a hard cap, so an oversized manifest or JSON body is refused
// (PAYLOAD_TOO_LARGE / MANIFEST_INVALID) without buffering more than the cap.
import type { Readable } from 'node:stream';
import { RegistryError, type ErrorCode } from '@stevedore/oci';

export async function readLimited(stream: Readable, limit: number, code: ErrorCode = 'PAYLOAD_TOO_LARGE'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      stream.destroy();
      throw new RegistryError(code, `body exceeds the limit of ${limit} bytes`, { limit }, code === 'PAYLOAD_TOO_LARGE' ? 413 : undefined);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}
