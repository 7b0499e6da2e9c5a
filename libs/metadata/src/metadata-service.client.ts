// MetadataService over HTTP: what a split gateway uses to reach metadata-service.
import { type Digest, referenceOf, type LocalReference } from '@stevedore/oci';
import { InternalClient } from '@stevedore/platform';
import type {
  ManifestDataRecord,
  ManifestGcService,
  ManifestRecord,
  MetadataService,
  Page,
  PutManifestOptions,
  PutManifestResult,
  ReferrerDescriptor,
  StoredManifest,
  TagHistoryEntry,
} from './metadata-service';

export class MetadataServiceClient implements MetadataService, ManifestGcService {
  private readonly http: InternalClient;
  constructor(baseUrl: string, token?: string) {
    this.http = new InternalClient(baseUrl, token);
  }

  async getManifest(ref: LocalReference): Promise<StoredManifest> {
    const r = await this.http.call({ method: 'GET', path: '/manifests', query: { name: ref.name, reference: referenceOf(ref) } });
    const bytes = Buffer.from(await r.body.arrayBuffer());
    return { digest: r.headers['x-digest'] as Digest, mediaType: String(r.headers['content-type']), size: bytes.length, bytes };
  }
  putManifest(ref: LocalReference, bytes: Buffer, contentType: string | undefined, options: PutManifestOptions = {}): Promise<PutManifestResult> {
    const allowMissingReferences = options.allowMissingReferences ? 1 : undefined;
    return this.http.json({ method: 'PUT', path: '/manifests', query: { name: ref.name, reference: referenceOf(ref), contentType, allowMissingReferences }, body: bytes });
  }
  async deleteManifest(name: string, digest: Digest): Promise<void> {
    await this.http.json({ method: 'DELETE', path: '/manifests', query: { name, digest } });
  }
  async deleteTag(name: string, tag: string): Promise<void> {
    await this.http.json({ method: 'DELETE', path: '/tags', query: { name, tag } });
  }
  async tagManifest(name: string, tag: string, digest: Digest): Promise<void> {
    await this.http.json({ method: 'PUT', path: '/tags', query: { name, tag, digest } });
  }
  listTags(name: string, n?: number, last?: string): Promise<Page<string>> {
    return this.http.json({ method: 'GET', path: '/tags', query: { name, n, last } });
  }
  tagsOf(name: string, digest: Digest): Promise<string[]> {
    return this.http.json({ method: 'GET', path: '/tags/of', query: { name, digest } });
  }
  catalog(n?: number, last?: string): Promise<Page<string>> {
    return this.http.json({ method: 'GET', path: '/catalog', query: { n, last } });
  }
  referrers(name: string, subject: Digest, artifactType?: string): Promise<ReferrerDescriptor[]> {
    return this.http.json({ method: 'GET', path: '/referrers', query: { name, subject, artifactType } });
  }
  tagHistory(name: string, tag: string): Promise<TagHistoryEntry[]> {
    return this.http.json({ method: 'GET', path: '/tags/history', query: { name, tag } });
  }
  reindex(): Promise<{ repositories: number; manifests: number; tags: number; blobs: number }> {
    return this.http.json({ method: 'POST', path: '/reindex' });
  }
  listManifests(name: string): Promise<ManifestRecord[]> {
    return this.http.json({ method: 'GET', path: '/gc/manifests', query: { name } });
  }
  deleteUntagged(name: string, digests: Digest[], options: { olderThan: number }): Promise<Digest[]> {
    return this.http.json({ method: 'POST', path: '/gc/manifests/delete-untagged', json: { name, digests, olderThan: options.olderThan } });
  }
  listManifestData(cursor?: string): Promise<{ items: ManifestDataRecord[]; cursor?: string }> {
    return this.http.json({ method: 'GET', path: '/gc/manifest-data', query: { cursor } });
  }
  purgeManifestData(digests: Digest[], options: { olderThan: number }): Promise<ManifestDataRecord[]> {
    return this.http.json({ method: 'POST', path: '/gc/manifest-data/purge', json: { digests, olderThan: options.olderThan } });
  }
}
