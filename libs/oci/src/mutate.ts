// go-containerregistry's mutate: a new image from a base, lazily. The config is the base's with
// changes applied, a history entry appended, and the appended layer's diff_id; the manifest names
// the base's layers and the new one. Nothing is computed until asked, so a streamed layer (a
// commit's) is stored by `copy` first and the config and manifest are built from what it learnt.
import { buildImage, type ManifestFormat } from './build-image';
import type { Image } from './image';
import type { Layer } from './layer';
import type { History, ImageConfig } from './schemas';

export interface Mutation {
  /** The config's new contents, from the base's (`docker commit -c`, author, created). */
  config?: (base: ImageConfig) => ImageConfig;
  /** A layer to append (none: an empty-layer history entry only). */
  layer?: Layer;
  /** The history entry of this step. */
  history?: History;
  /** Manifest format (default: the base's). */
  format?: ManifestFormat;
}

/** An image with no layers and the given config (go-containerregistry's empty.Image): the base of an import. */
export function emptyImage(config: ImageConfig, format: ManifestFormat = 'oci'): Image {
  let built: Promise<Image> | undefined;
  const image = () => (built ??= buildImage({ config, layers: [], format }));
  return {
    layers: async () => [],
    rawManifest: async () => (await image()).rawManifest(),
    manifest: async () => (await image()).manifest(),
    mediaType: async () => (await image()).mediaType(),
    digest: async () => (await image()).digest(),
    rawConfigFile: async () => (await image()).rawConfigFile(),
    configFile: async () => config,
    configName: async () => (await image()).configName(),
  };
}

export function mutate(base: Image, m: Mutation): Image {
  let built: Promise<Image> | undefined;
  const layers = async () => [...(await base.layers()), ...(m.layer ? [m.layer] : [])];
  const image = () =>
    (built ??= (async () => {
      const baseConfig = await base.configFile();
      const config = m.config ? m.config(baseConfig) : baseConfig;
      const history = m.history ? [...(baseConfig.history ?? []), m.history] : (config.history ?? baseConfig.history);
      const format = m.format ?? ((await base.mediaType()).includes('docker') ? 'docker' : 'oci');
      return buildImage({ config: { ...config, ...(history ? { history } : {}) }, layers: await layers(), format });
    })());
  return {
    layers,
    rawManifest: async () => (await image()).rawManifest(),
    manifest: async () => (await image()).manifest(),
    mediaType: async () => (await image()).mediaType(),
    digest: async () => (await image()).digest(),
    rawConfigFile: async () => (await image()).rawConfigFile(),
    configFile: async () => (await image()).configFile(),
    configName: async () => (await image()).configName(),
  };
}
