// Uncompressed layer sizes for `docker images` and `docker history`: from the cache, else learned by
// reading the layer once (kept by digest, so each layer is read at most once). Whatever makes an
// image here (commit, load, import) calls this before it answers, so `images` shows the right SIZE
// at once, also for layers that arrived through /v2, whose sizes nothing had learned.
import { pipeline } from 'node:stream/promises';
import { decompressStream, layerCompression, type Descriptor } from '@stevedore/oci';
import type { BlobService } from '@stevedore/blobs';
import { openBlobStream } from './blob-stream';
import type { LayerSizeCache } from './layer-size-cache';

/** Each layer's uncompressed size (undefined: not readable here); unknown ones are learned and cached. */
export async function learnLayerSizes(
  deps: { blobs: BlobService; sizes: LayerSizeCache },
  repository: string,
  layers: readonly Descriptor[],
): Promise<Array<number | undefined>> {
  const cached = await deps.sizes.get(layers.map((l) => l.digest));
  return Promise.all(
    layers.map(async (l, i) => {
      if (cached[i] !== undefined) return cached[i];
      const kind = layerCompression(l.mediaType);
      if (kind === undefined) return undefined;
      let size: number;
      if (kind === 'none') size = l.size;
      else {
        try {
          const { stream } = await decompressStream(await openBlobStream(deps.blobs, repository, l.digest));
          size = 0;
          await pipeline(stream, async (src: AsyncIterable<Buffer>) => {
            for await (const chunk of src) size += chunk.length;
          });
        } catch {
          // Not a readable layer (or a compression we cannot undo here): the size stays unknown.
          return undefined;
        }
      }
      await deps.sizes.set(l.digest, size);
      return size;
    }),
  );
}
