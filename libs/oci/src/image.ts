// An image as every source and sink sees it (go-containerregistry's v1.Image): a registry, a
// docker-archive, an OCI layout and a commit all produce or consume this.
import type { Readable } from 'node:stream';
import { digestOf, type Digest } from './digest';
import { RegistryError } from './errors';
import { layerFrom, type Layer, type LayerOrigin } from './layer';
import { parseManifest } from './parse-manifest';
import { ImageConfigSchema, type Descriptor, type ImageConfig, type ImageManifest } from './schemas';

export interface Image {
  /** The manifest's exact bytes (its digest is over these). */
  rawManifest(): Promise<Buffer>;
  manifest(): Promise<ImageManifest>;
  mediaType(): Promise<string>;
  digest(): Promise<Digest>;
  rawConfigFile(): Promise<Buffer>;
  configFile(): Promise<ImageConfig>;
  /** The config blob's digest (Docker's image ID). */
  configName(): Promise<Digest>;
  layers(): Promise<Layer[]>;
}

/** Parse and validate config bytes; MANIFEST_INVALID with the issues otherwise. */
export function parseImageConfig(bytes: Buffer): ImageConfig {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new RegistryError('MANIFEST_INVALID', 'image config is not valid JSON', { reason: (e as Error).message });
  }
  const r = ImageConfigSchema.safeParse(json);
  if (!r.success) {
    throw new RegistryError('MANIFEST_INVALID', 'invalid image config', {
      issues: r.error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return r.data;
}

export interface ImageBlobs {
  rawManifest: Buffer;
  /** Opens a blob named by a descriptor of this manifest (config or layer). */
  openBlob(descriptor: Descriptor): Promise<Readable>;
  /** Config bytes, if the source already holds them; else read with openBlob. */
  rawConfig?: Buffer;
  /** Where the layers' bytes are (a store and repository), so a sink that is that store can mount them. */
  origin?: LayerOrigin;
  /** The manifest's media type as its source gave it (a Content-Type), for manifests without one inside. */
  mediaType?: string;
}

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The whole Image from a raw manifest and a blob opener (go-containerregistry's partial package):
 * digests come from the manifest, diff IDs from the config. Throws MANIFEST_INVALID for an index.
 */
export function imageFromBlobs(src: ImageBlobs): Image {
  const parsed = parseManifest(src.rawManifest, src.mediaType);
  if (parsed.isIndex)
    throw new RegistryError('MANIFEST_INVALID', 'expected an image manifest, got an index', { mediaType: parsed.mediaType });
  const manifest = parsed.parsed as ImageManifest;
  let rawConfig: Promise<Buffer> | undefined;
  const configBytes = () =>
    (rawConfig ??= (src.rawConfig ? Promise.resolve(src.rawConfig) : src.openBlob(manifest.config).then(readAll)).then((b) => {
      if (digestOf(b, manifest.config.digest.startsWith('sha512:') ? 'sha512' : 'sha256') !== manifest.config.digest) {
        throw new RegistryError('DIGEST_INVALID', 'image config does not match its digest', { expected: manifest.config.digest });
      }
      return b;
    }));
  const configFile = async () => parseImageConfig(await configBytes());
  return {
    rawManifest: async () => src.rawManifest,
    manifest: async () => manifest,
    mediaType: async () => parsed.mediaType,
    digest: async () => parsed.digest,
    rawConfigFile: configBytes,
    configFile,
    configName: async () => manifest.config.digest,
    // Layers come from the manifest alone: an artifact whose config is not an image config still
    // copies. A diff_id is read from the config only when asked (and the counts must agree then).
    layers: async () => {
      const diffIds = async () => {
        const ids = (await configFile()).rootfs.diff_ids;
        if (ids.length !== manifest.layers.length) {
          throw new RegistryError('MANIFEST_INVALID', 'manifest layers and config diff_ids differ in number', {
            layers: manifest.layers.length,
            diffIds: ids.length,
          });
        }
        return ids as Digest[];
      };
      return manifest.layers.map((d, i) =>
        layerFrom({
          open: () => src.openBlob(d),
          mediaType: d.mediaType,
          digest: d.digest,
          size: d.size,
          diffId: async () => (await diffIds())[i],
          origin: src.origin,
        }),
      );
    },
  };
}
