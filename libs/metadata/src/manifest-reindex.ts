// Rebuild metadata's Redis index from storage (after Redis was lost): layer storage's index first
// (the manifest bytes are its), then from metadata's links in this order: manifests, tag history,
// then tags, and tags only onto manifests that made it into the index, so no tag ever names a
// manifest a pull could not read. Indexing a manifest also indexes its image ID (the image-ID keys
// come back with the manifests).
import { parseManifest, type Digest } from '@stevedore/oci';
import type { StorageDriver } from '@stevedore/storage';
import type { BlobService } from '@stevedore/blobs';
import { metadataPaths, parseMetadataLink } from './metadata-layout';
import type { ManifestRepository } from './manifest-repository';
import type { TagRepository } from './tag-repository';

export interface ReindexReport {
  repositories: number;
  manifests: number;
  tags: number;
  blobs: number;
}

export class ManifestReindex {
  constructor(
    private readonly storage: StorageDriver,
    private readonly blobs: Pick<BlobService, 'reindex' | 'readContent'>,
    private readonly manifests: ManifestRepository,
    private readonly tags: TagRepository,
  ) {}

  async run(): Promise<ReindexReport> {
    const blobs = await this.blobs.reindex();
    const repos = new Set<string>();
    let manifests = 0;
    let tags = 0;
    const tagLinks: Array<{ name: string; tag: string; at: number }> = [];
    const history: Array<{ name: string; tag: string; digest: Digest; at: number }> = [];
    for await (const f of this.storage.list(metadataPaths.repositoriesRoot)) {
      const link = parseMetadataLink(f.path);
      if (!link) continue;
      if (link.kind === 'revision') {
        const bytes = await this.blobs.readContent(link.digest);
        if (!bytes) continue;
        try {
          await this.manifests.index(link.name, link.digest, parseManifest(bytes, undefined), bytes);
          repos.add(link.name);
          manifests++;
        } catch {
          // Not a manifest we can read: leave it out of the index rather than serve it.
        }
      } else if (link.kind === 'tag') {
        tagLinks.push({ name: link.name, tag: link.tag, at: f.modTime.getTime() });
      } else {
        history.push({ name: link.name, tag: link.tag, digest: link.digest, at: f.modTime.getTime() });
      }
    }
    // History as storage keeps it, also of deleted tags and manifests (tag-repository.ts).
    for (const h of history) await this.tags.restoreHistory(h.name, h.tag, h.digest, h.at);
    // Tags last: only onto manifests that made it into the index.
    for (const t of tagLinks) {
      const digest = await this.tags.readCurrentLink(t.name, t.tag);
      if (!(await this.manifests.isLinked(t.name, digest))) continue;
      await this.tags.restore(t.name, t.tag, digest, t.at);
      tags++;
    }
    await this.manifests.markImageIdsComplete();
    return { repositories: repos.size, manifests, tags, blobs };
  }
}
