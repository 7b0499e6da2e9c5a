// What `docker inspect` and `docker history` print for an image, computed from its manifest and
// config (pure: the caller supplies sizes, tags and digests it looked up).
import type { Descriptor, Digest, ImageConfig, ImageManifest, ImageIndex, Platform } from '@stevedore/oci';

/** Docker's zero time, which `docker inspect` shows for facts it does not know. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface InspectInput {
  name: string;
  digest: Digest;
  mediaType: string;
  size: number;
  manifest: ImageManifest;
  config: ImageConfig;
  tags: string[];
  /** Uncompressed size per layer (undefined where unknown). */
  layerSizes: Array<number | undefined>;
}

export interface DockerImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: Record<string, unknown>;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  /** Uncompressed size of the layers, as `docker images` shows; compressed where unknown. */
  Size: number;
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
  /** Not in classic docker inspect (Docker 27+ with the containerd store has it). */
  Descriptor: Descriptor;
  /** Stevedore additions: sizes as transferred. */
  CompressedSize: number;
  UncompressedSize: number | null;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Moby's container-config defaults, so the shape matches what `docker inspect` prints. */
function dockerConfig(config: ImageConfig): Record<string, unknown> {
  const c = config.config ?? {};
  return {
    Hostname: '',
    Domainname: '',
    User: c.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ExposedPorts: c.ExposedPorts ?? undefined,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    Healthcheck: c.Healthcheck ?? undefined,
    ArgsEscaped: c.ArgsEscaped ?? undefined,
    Image: '',
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
    StopSignal: c.StopSignal ?? undefined,
    Shell: c.Shell ?? undefined,
  };
}

/** The parent image, where the config or manifest records one (docker commit writes `parent`). */
export function parentOf(config: ImageConfig, manifest: ImageManifest): string {
  const p = (config as Record<string, unknown>)['parent'];
  if (typeof p === 'string') return p;
  const a = 'annotations' in manifest ? (manifest.annotations as Record<string, string> | undefined) : undefined;
  return a?.['org.opencontainers.image.base.digest'] ?? '';
}

export function inspectImage(i: InspectInput): DockerImageInspect {
  const { config, manifest } = i;
  const compressed = sum(manifest.layers.map((l) => l.size));
  const known = i.layerSizes.every((s) => s !== undefined);
  const uncompressed = known ? sum(i.layerSizes as number[]) : null;
  const out: DockerImageInspect = {
    Id: manifest.config.digest,
    RepoTags: i.tags.map((t) => `${i.name}:${t}`),
    RepoDigests: [`${i.name}@${i.digest}`],
    Parent: parentOf(config, manifest),
    Comment: config.comment ?? lastHistory(config)?.comment ?? '',
    Created: config.created ?? ZERO_TIME,
    DockerVersion: config.docker_version ?? '',
    Author: config.author ?? '',
    Config: dockerConfig(config),
    Architecture: config.architecture,
    Os: config.os,
    Size: uncompressed ?? compressed,
    RootFS: { Type: config.rootfs.type, Layers: [...config.rootfs.diff_ids] },
    Metadata: { LastTagTime: ZERO_TIME },
    Descriptor: { mediaType: i.mediaType, digest: i.digest, size: i.size },
    CompressedSize: compressed,
    UncompressedSize: uncompressed,
  };
  if (config.variant) out.Variant = config.variant;
  if (config['os.version']) out.OsVersion = config['os.version'];
  return out;
}

function lastHistory(config: ImageConfig) {
  const h = config.history ?? [];
  return h[h.length - 1];
}

export interface IndexInspectInput {
  name: string;
  digest: Digest;
  mediaType: string;
  size: number;
  index: ImageIndex;
  tags: string[];
  /** Which child manifests this repository holds. */
  available: Set<string>;
}

export interface IndexManifestSummary {
  ID: string;
  Descriptor: Descriptor;
  Available: boolean;
  Kind: 'image' | 'attestation' | 'unknown';
  Platform?: Platform;
}

export interface DockerIndexInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Descriptor: Descriptor;
  /** `os/arch[/variant]` of each image manifest, as `docker manifest inspect` lists them. */
  Platforms: string[];
  Manifests: IndexManifestSummary[];
}

export function platformString(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

export function inspectIndex(i: IndexInspectInput): DockerIndexInspect {
  const manifests = i.index.manifests.map((d): IndexManifestSummary => {
    const attestation = d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest';
    const kind = attestation ? 'attestation' : d.platform ? 'image' : 'unknown';
    const s: IndexManifestSummary = { ID: d.digest, Descriptor: d, Available: i.available.has(d.digest), Kind: kind };
    if (d.platform) s.Platform = d.platform;
    return s;
  });
  return {
    Id: i.digest,
    RepoTags: i.tags.map((t) => `${i.name}:${t}`),
    RepoDigests: [`${i.name}@${i.digest}`],
    Descriptor: { mediaType: i.mediaType, digest: i.digest, size: i.size },
    Platforms: manifests.flatMap((m) => (m.Kind === 'image' && m.Platform ? [platformString(m.Platform)] : [])),
    Manifests: manifests,
  };
}

/** One line of `docker history` (moby's HistoryResponseItem), plus the layer it made. */
export interface HistoryEntry {
  /** The image ID on the newest entry, `<missing>` on the others (as docker shows for pulled images). */
  Id: string;
  /** Unix seconds. */
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  /** Uncompressed size of the layer the step made; 0 for an empty layer. */
  Size: number;
  Comment: string;
  EmptyLayer: boolean;
  /** Stevedore additions: the layer, and its size as stored. */
  LayerDigest?: string;
  CompressedSize?: number;
}

export interface HistoryInput {
  imageId: string;
  tags: string[];
  config: ImageConfig;
  layers: Descriptor[];
  layerSizes: Array<number | undefined>;
}

/**
 * The history newest first. Entries with `empty_layer` make no layer; the others take the layers in
 * order. A config without history (or with fewer non-empty entries than layers) gets one synthetic
 * entry per unaccounted layer, so every layer's size shows.
 */
export function historyOf(h: HistoryInput): HistoryEntry[] {
  const entries = [...(h.config.history ?? [])];
  const nonEmpty = entries.filter((e) => !e.empty_layer).length;
  for (let k = nonEmpty; k < h.layers.length; k++) entries.push({ created: h.config.created });
  let layer = 0;
  const out: HistoryEntry[] = entries.map((e) => {
    const empty = !!e.empty_layer || layer >= h.layers.length;
    const entry: HistoryEntry = {
      Id: '<missing>',
      Created: e.created ? Math.floor(Date.parse(e.created) / 1000) || 0 : 0,
      CreatedBy: e.created_by ?? '',
      Tags: null,
      Size: 0,
      Comment: e.comment ?? '',
      EmptyLayer: empty,
    };
    if (!empty) {
      const d = h.layers[layer];
      entry.Size = h.layerSizes[layer] ?? d.size;
      entry.LayerDigest = d.digest;
      entry.CompressedSize = d.size;
      layer++;
    }
    return entry;
  });
  out.reverse();
  if (out.length) {
    out[0].Id = h.imageId;
    out[0].Tags = h.tags.length ? h.tags : null;
  }
  return out;
}
