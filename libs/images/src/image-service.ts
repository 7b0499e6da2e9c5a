// The image commands of the management API with Docker's rules, over the metadata and blob
// services: tag (one image, many tags; a tag names one image; retag moves it), untag, rmi,
// images, inspect and history.
import {
  RegistryError,
  isIndexMediaType,
  parseImageConfig,
  parseManifest,
  type Descriptor,
  type Digest,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type ParsedManifest,
  type LocalReference,
  formatLocalReference,
  parseLocalReference,
  readCapped,
  copy,
} from '@stevedore/oci';
import type { BlobService } from '@stevedore/blobs';
import type { MetadataService } from '@stevedore/metadata';
import { openBlobStream } from './blob-stream';

import {
  historyOf,
  inspectImage,
  inspectIndex,
  platformString,
  type DockerImageInspect,
  type DockerIndexInspect,
  type HistoryEntry,
} from './image-inspect';
import type { LayerSizeCache } from './layer-size-cache';
import { learnLayerSizes } from './layer-sizes';
import { LocalImageSink, localArtifact } from './local-images';

/** Image configs are small JSON; refuse to buffer a blob that claims to be one but is not. */
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

export interface ResolvedManifest {
  name: string;
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
  parsed: ParsedManifest;
}

export interface ImageSummary {
  repository: string;
  tag: string;
  digest: Digest;
  mediaType: string;
  /** Config digest (Docker's image ID); the index digest for a multi-platform image. */
  id: string;
  created: string | null;
  /** Bytes as stored and pulled: manifest, config and layers (children's, for an index). */
  compressedSize: number;
  /** Unpacked layer bytes, when known (learned on inspect, load and import). */
  uncompressedSize: number | null;
  platforms?: string[];
}

export interface ListImagesOptions {
  repository?: string;
  /** Page size (default 100, at most 1000). */
  n?: number;
  /** `repository:tag` of the last row of the previous page. */
  last?: string;
}

export interface TagResult {
  source: string;
  target: string;
  digest: Digest;
  /** The image the tag named before, when tagging moved it. */
  previous?: Digest;
}

export interface RemoveResult {
  untagged: string[];
  deleted: Digest[];
}

export class ImageService {
  constructor(
    private readonly metadata: MetadataService,
    private readonly blobs: BlobService,
    private readonly sizes: LayerSizeCache,
  ) {}

  /** The manifest a reference names: digest wins over tag; a bare name means `latest`. */
  async resolve(ref: LocalReference | string): Promise<ResolvedManifest> {
    const r = typeof ref === 'string' ? parseLocalReference(ref, { defaultTag: true }) : ref;
    const m = await this.metadata.getManifest(r.digest || r.tag ? r : { ...r, tag: 'latest' });
    return { name: r.name, digest: m.digest, mediaType: m.mediaType, bytes: m.bytes, parsed: parseManifest(m.bytes, m.mediaType) };
  }

  async config(name: string, manifest: ImageManifest): Promise<ImageConfig> {
    const stream = await openBlobStream(this.blobs, name, manifest.config.digest);
    return parseImageConfig(await readCapped(stream, MAX_CONFIG_BYTES, 'MANIFEST_INVALID', 'image config'));
  }

  /**
   * `docker tag SOURCE TARGET`. Within a repository the tag is pointed at the manifest (moving it
   * if it named another image); across repositories the manifest is copied and its blobs mounted,
   * children of an index first, so the target never names something incomplete.
   */
  async tag(source: string, target: string): Promise<TagResult> {
    const src = parseLocalReference(source, { defaultTag: true });
    const dst = parseLocalReference(target, { defaultTag: true });
    if (dst.digest) throw new RegistryError('INVALID_REQUEST', 'a tag target cannot name a digest', { target });
    const tag = dst.tag ?? 'latest';
    const m = await this.resolve(src);
    const previous = await this.metadata.getManifest({ name: dst.name, tag }).then(
      (p) => p.digest,
      (e: unknown) => {
        if (RegistryError.is(e, 'MANIFEST_UNKNOWN') || RegistryError.is(e, 'NAME_UNKNOWN')) return undefined;
        throw e;
      },
    );
    if (dst.name === src.name) await this.metadata.tagManifest(dst.name, tag, m.digest);
    else {
      // Across repositories a tag is a copy: blobs linked from the source, children before an index, the tag last.
      const source = await localArtifact(this.blobs, this.metadata, { name: src.name, digest: m.digest });
      await copy([{ artifact: source, targets: [{ repository: dst.name, tag }] }], new LocalImageSink(this.blobs, this.metadata));
    }
    const result: TagResult = { source: formatLocalReference(src), target: formatLocalReference(dst), digest: m.digest };
    if (previous && previous !== m.digest) result.previous = previous;
    return result;
  }

  /** `docker rmi NAME:TAG`: removes the reference only; the image stays for its other tags and digest. */
  async untag(reference: string): Promise<{ untagged: string; digest: Digest; remainingTags: string[] }> {
    const ref = parseLocalReference(reference, { defaultTag: true });
    if (ref.digest) throw new RegistryError('INVALID_REQUEST', 'untag takes NAME:TAG; remove an image by digest with rmi', { reference });
    const tag = ref.tag ?? 'latest';
    const m = await this.metadata.getManifest({ name: ref.name, tag });
    await this.metadata.deleteTag(ref.name, tag);
    const remaining = await this.metadata.tagsOf(ref.name, m.digest);
    return { untagged: `${ref.name}:${tag}`, digest: m.digest, remainingTags: remaining.map((t) => `${ref.name}:${t}`) };
  }

  /**
   * `docker rmi`: a tag reference untags; a digest reference deletes the manifest and every tag on
   * it, which needs `force` when tags exist (as distribution v3 does on DELETE by digest). A
   * manifest that a tagged index of the repository lists is refused even with force: deleting it
   * would leave the index pointing at nothing.
   */
  async remove(reference: string, force = false): Promise<RemoveResult> {
    const ref = parseLocalReference(reference);
    if (!ref.digest) {
      const u = await this.untag(reference);
      return { untagged: [u.untagged], deleted: [] };
    }
    const m = await this.resolve({ name: ref.name, digest: ref.digest });
    const tags = await this.metadata.tagsOf(ref.name, m.digest);
    if (tags.length && !force) {
      throw new RegistryError(
        'CONFLICT',
        `image ${ref.name}@${m.digest} is tagged (${tags.map((t) => `${ref.name}:${t}`).join(', ')}); untag it or remove with force`,
        {
          tags: tags.map((t) => `${ref.name}:${t}`),
        },
      );
    }
    const parents = await this.parentIndexes(ref.name, m.digest);
    if (parents.length) {
      throw new RegistryError('CONFLICT', `image ${ref.name}@${m.digest} is part of index ${parents[0]}; remove the index first`, {
        indexes: parents,
      });
    }
    await this.metadata.deleteManifest(ref.name, m.digest);
    return { untagged: tags.map((t) => `${ref.name}:${t}`), deleted: [m.digest] };
  }

  private async parentIndexes(name: string, digest: Digest): Promise<string[]> {
    const out = new Set<string>();
    for (const tag of await this.allTags(name)) {
      const m = await this.metadata.getManifest({ name, tag }).catch(() => undefined);
      if (!m || !isIndexMediaType(m.mediaType) || m.digest === digest) continue;
      const idx = parseManifest(m.bytes, m.mediaType);
      if (idx.references.some((d) => d.digest === digest)) out.add(m.digest);
    }
    return [...out];
  }

  /** Every tag of a repository, paging through the metadata service. */
  async allTags(name: string): Promise<string[]> {
    const tags: string[] = [];
    let last: string | undefined;
    for (;;) {
      const page = await this.metadata.listTags(name, 1000, last);
      tags.push(...page.items);
      if (!page.next) return tags;
      last = page.next;
    }
  }

  /** `docker images`: one row per repository and tag, ordered by repository then tag. */
  async list(options: ListImagesOptions = {}): Promise<{ items: ImageSummary[]; next?: string }> {
    const n = Math.min(Math.max(options.n ?? 100, 1), 1000);
    let afterRepo: string | undefined;
    let afterTag: string | undefined;
    if (options.last) {
      const i = options.last.lastIndexOf(':');
      if (i <= 0)
        throw new RegistryError('INVALID_REQUEST', '`last` must be REPOSITORY:TAG from the previous page', { last: options.last });
      afterRepo = options.last.slice(0, i);
      afterTag = options.last.slice(i + 1);
    }
    const items: ImageSummary[] = [];
    const want = n + 1;
    const repos = options.repository ? [parseLocalReference(options.repository).name] : undefined;
    const summaries = new Map<string, Omit<ImageSummary, 'repository' | 'tag'>>();
    let repoCursor = afterRepo ? repoBefore(afterRepo) : undefined;
    outer: for (;;) {
      let batch: string[];
      let more = false;
      if (repos) {
        batch = repos;
      } else {
        const page = await this.metadata.catalog(100, repoCursor);
        batch = page.items;
        more = !!page.next;
        repoCursor = page.next;
      }
      for (const repo of batch) {
        if (afterRepo && repo < afterRepo) continue;
        let tagCursor = repo === afterRepo ? afterTag : undefined;
        for (;;) {
          const page = await this.metadata.listTags(repo, Math.min(want - items.length, 1000), tagCursor).catch((e: unknown) => {
            if (RegistryError.is(e, 'NAME_UNKNOWN')) return { items: [] as string[], next: undefined };
            throw e;
          });
          for (const tag of page.items) {
            const m = await this.metadata.getManifest({ name: repo, tag }).catch(() => undefined);
            if (!m) continue;
            const key = `${repo}@${m.digest}`;
            let s = summaries.get(key);
            if (!s) {
              s = await this.summarize(repo, {
                name: repo,
                digest: m.digest,
                mediaType: m.mediaType,
                bytes: m.bytes,
                parsed: parseManifest(m.bytes, m.mediaType),
              });
              summaries.set(key, s);
            }
            items.push({ repository: repo, tag, ...s });
            if (items.length >= want) break outer;
          }
          if (!page.next) break;
          tagCursor = page.next;
        }
      }
      if (!more) break;
    }
    if (items.length > n) {
      items.length = n;
      return { items, next: `${items[n - 1].repository}:${items[n - 1].tag}` };
    }
    return { items };
  }

  private async summarize(name: string, m: ResolvedManifest): Promise<Omit<ImageSummary, 'repository' | 'tag'>> {
    if (m.parsed.isIndex) {
      const index = m.parsed.parsed as ImageIndex;
      let compressed = m.bytes.length;
      for (const d of index.manifests) {
        const child = await this.metadata.getManifest({ name, digest: d.digest as Digest }).catch(() => undefined);
        if (!child) continue;
        const p = parseManifest(child.bytes, child.mediaType);
        compressed += child.bytes.length + p.references.reduce((a, r) => a + r.size, 0);
      }
      return {
        digest: m.digest,
        mediaType: m.mediaType,
        id: m.digest,
        created: null,
        compressedSize: compressed,
        uncompressedSize: null,
        platforms: index.manifests.flatMap((d) => (d.platform ? [platformString(d.platform)] : [])),
      };
    }
    const manifest = m.parsed.parsed as ImageManifest;
    const config = await this.config(name, manifest).catch(() => undefined);
    const layerSizes = await this.sizes.get(manifest.layers.map((l) => l.digest));
    const known = layerSizes.every((s) => s !== undefined);
    return {
      digest: m.digest,
      mediaType: m.mediaType,
      id: manifest.config.digest,
      created: config?.created ?? null,
      compressedSize: m.bytes.length + manifest.config.size + manifest.layers.reduce((a, l) => a + l.size, 0),
      uncompressedSize: known ? layerSizes.reduce<number>((a, s) => a + (s as number), 0) : null,
    };
  }

  /** `docker inspect` of an image (or, for an index, its platforms and manifests). */
  async inspect(reference: string): Promise<DockerImageInspect | DockerIndexInspect> {
    const m = await this.resolve(reference);
    const tags = await this.metadata.tagsOf(m.name, m.digest);
    if (m.parsed.isIndex) {
      const index = m.parsed.parsed as ImageIndex;
      const available = new Set<string>();
      for (const d of index.manifests) {
        if (
          await this.metadata.getManifest({ name: m.name, digest: d.digest as Digest }).then(
            () => true,
            () => false,
          )
        )
          available.add(d.digest);
      }
      return inspectIndex({ name: m.name, digest: m.digest, mediaType: m.mediaType, size: m.bytes.length, index, tags, available });
    }
    const manifest = m.parsed.parsed as ImageManifest;
    const config = await this.config(m.name, manifest);
    const layerSizes = await this.uncompressedSizes(m.name, manifest.layers);
    return inspectImage({
      name: m.name,
      digest: m.digest,
      mediaType: m.mediaType,
      size: m.bytes.length,
      manifest,
      config,
      tags,
      layerSizes,
    });
  }

  /** `docker history`: newest first, with each step's layer size. */
  async history(reference: string): Promise<HistoryEntry[]> {
    const m = await this.resolve(reference);
    if (m.parsed.isIndex) {
      throw new RegistryError(
        'INVALID_REQUEST',
        `${m.name}@${m.digest} is a multi-platform index; ask for one of its manifests by digest`,
        {
          manifests: m.parsed.references.map((d) => ({ digest: d.digest, platform: d.platform })),
        },
      );
    }
    const manifest = m.parsed.parsed as ImageManifest;
    const config = await this.config(m.name, manifest);
    const tags = await this.metadata.tagsOf(m.name, m.digest);
    const layerSizes = await this.uncompressedSizes(m.name, manifest.layers);
    return historyOf({
      imageId: manifest.config.digest,
      tags: tags.map((t) => `${m.name}:${t}`),
      config,
      layers: manifest.layers,
      layerSizes,
    });
  }

  /** Uncompressed size of each layer: cached, else learned by reading it once. */
  uncompressedSizes(name: string, layers: Descriptor[]): Promise<Array<number | undefined>> {
    return learnLayerSizes({ blobs: this.blobs, sizes: this.sizes }, name, layers);
  }
}

/** A catalog cursor just before `repo`, so a page starts at `repo` itself. */
function repoBefore(repo: string): string | undefined {
  // The catalog pages strictly after `last`; the greatest string below `repo` in practice is
  // `repo` with its last character decremented and padded high.
  if (!repo) return undefined;
  const last = repo.charCodeAt(repo.length - 1);
  return repo.slice(0, -1) + String.fromCharCode(last - 1) + '\uffff';
}
