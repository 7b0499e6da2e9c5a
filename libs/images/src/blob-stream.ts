// The bytes of a blob opened without a redirect: the blob service always returns a stream then.
import type { Readable } from 'node:stream';
import { RegistryError, type Digest } from '@stevedore/oci';
import type { BlobService } from '@stevedore/blobs';

export async function openBlobStream(blobs: BlobService, name: string, digest: Digest): Promise<Readable> {
  const c = await blobs.open(name, digest);
  if (!c.stream) throw new RegistryError('INTERNAL', 'the blob service answered without a stream', { name, digest });
  return c.stream;
}
