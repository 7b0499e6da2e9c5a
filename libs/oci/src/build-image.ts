// Compose an Image from a config and layers: what a commit or an old docker-archive (which carries
// no manifest) needs. The config's rootfs is rewritten from the layers so the two cannot disagree.
import { digestOf } from './digest';
import { RegistryError } from './errors';
import { imageFromBlobs, type Image } from './image';
import type { Layer } from './layer';
import { MediaTypes } from './media-types';
import type { Descriptor, ImageConfig } from './schemas';

export type ManifestFormat = 'oci' | 'docker';

export interface BuildImageOptions {
  config?: ImageConfig;
  layers: Layer[];
  /** OCI image manifest (default) or Docker schema2. */
  format?: ManifestFormat;
  /**
   * Config bytes to use exactly as given (their digest is the image ID), for sources such as a
   * docker-archive that already hold a config; `config` is then ignored.
   */
  rawConfig?: Buffer;
  /** Manifest annotations (OCI only; Docker schema2 has none). */
  annotations?: Record<string, string>;
}

const TO_DOCKER: Record<string, string> = {
  [MediaTypes.ociLayer]: MediaTypes.dockerLayer,
  [MediaTypes.ociLayerGzip]: MediaTypes.dockerLayerGzip,
};
const TO_OCI: Record<string, string> = Object.fromEntries(Object.entries(TO_DOCKER).map(([k, v]) => [v, k]));

/** The layer media type of the same compression in the other family, where one exists. */
export function layerMediaTypeFor(format: ManifestFormat, mediaType: string): string {
  return (format === 'docker' ? TO_DOCKER : TO_OCI)[mediaType] ?? mediaType;
}

export async function buildImage(opts: BuildImageOptions): Promise<Image> {
  const format = opts.format ?? 'oci';
  const descriptors: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const l of opts.layers) {
    descriptors.push({ mediaType: layerMediaTypeFor(format, await l.mediaType()), digest: await l.digest(), size: await l.size() });
    diffIds.push(await l.diffId());
  }
  let rawConfig = opts.rawConfig;
  if (!rawConfig) {
    if (!opts.config) throw new RegistryError('INVALID_REQUEST', 'buildImage needs a config or rawConfig');
    rawConfig = Buffer.from(JSON.stringify({ ...opts.config, rootfs: { type: 'layers', diff_ids: diffIds } }));
  }
  const configDescriptor: Descriptor = {
    mediaType: format === 'docker' ? MediaTypes.dockerConfig : MediaTypes.ociConfig,
    digest: digestOf(rawConfig),
    size: rawConfig.length,
  };
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: format === 'docker' ? MediaTypes.dockerManifest : MediaTypes.ociManifest,
    config: configDescriptor,
    layers: descriptors,
  };
  if (format === 'oci' && opts.annotations && Object.keys(opts.annotations).length) manifest['annotations'] = opts.annotations;
  const byDigest = new Map(opts.layers.map((l, i) => [descriptors[i].digest as string, l]));
  return imageFromBlobs({
    rawManifest: Buffer.from(JSON.stringify(manifest)),
    rawConfig,
    openBlob: async (d) => {
      const l = byDigest.get(d.digest);
      if (!l) throw new RegistryError('BLOB_UNKNOWN', 'blob is not part of this image', { digest: d.digest });
      return l.compressed();
    },
  });
}
