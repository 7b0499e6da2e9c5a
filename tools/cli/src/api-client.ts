// Every call the CLI makes to the platform, in one place, so a route that moves is changed here only.
// Images, exports and imports follow libs/images; containers, commits and jobs follow issue 7
// (`/api/v1/containers/...`, `/api/v1/commits`, `/api/v1/commits:batch`, `/api/v1/jobs/:id` + SSE).
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import type { HttpClient, RawResponse } from './http-client';

export interface ApiError {
  code: string;
  message: string;
  detail?: unknown;
}

export interface ImageSummary {
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  id: string;
  created: string | null;
  compressedSize: number;
  uncompressedSize: number | null;
  platforms?: string[];
}

export interface HistoryEntry {
  id?: string;
  Id?: string;
  created?: string;
  Created?: string | number;
  createdBy?: string;
  CreatedBy?: string;
  size?: number;
  Size?: number;
  comment?: string;
  Comment?: string;
  tags?: string[];
  Tags?: string[] | null;
  [k: string]: unknown;
}

export interface JobProgress {
  phase?: string;
  bytes?: number;
  totalBytes?: number;
  percent?: number;
  files?: number;
  totalFiles?: number;
  [k: string]: unknown;
}

export interface JobStatus {
  id: string;
  kind?: string;
  state: string;
  progress?: JobProgress | number | null;
  result?: any;
  error?: ApiError;
  createdAt?: string;
  finishedAt?: string;
  children?: unknown;
  [k: string]: unknown;
}

export interface ContainerSummary {
  id?: string;
  name: string;
  image: string;
  state?: string;
  paused?: boolean;
  createdAt?: string;
  [k: string]: unknown;
}

export interface CommitSpec {
  container: string;
  repository?: string;
  tag?: string;
  reference?: string;
  author?: string;
  message?: string;
  changes?: string[];
  pause?: boolean;
}

const enc = encodeURIComponent;

/** An entry of the container's filesystem as the server reports it (libs/unionfs Entry). */
export interface RemoteEntry {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  linkname?: string;
}

export class StevedoreApi {
  constructor(readonly http: HttpClient) {}

  // ---- images (libs/images: images.controller.ts)
  listImages(q: { repository?: string; n?: number; last?: string } = {}) {
    return this.http.json<{ items: ImageSummary[]; next?: string }>('/api/v1/images', { query: q });
  }
  inspectImage(ref: string) {
    return this.http.json<Record<string, any>>('/api/v1/images/inspect', { query: { ref } });
  }
  history(ref: string) {
    return this.http.json<HistoryEntry[]>('/api/v1/images/history', { query: { ref } });
  }
  tag(source: string, target: string) {
    return this.http.json<{ source: string; target: string; digest: string; previous?: string }>('/api/v1/images/tag', {
      method: 'POST',
      json: { source, target },
    });
  }
  removeImage(ref: string, force: boolean) {
    return this.http.json<{ untagged: string[]; deleted: string[] }>('/api/v1/images', {
      method: 'DELETE',
      query: { ref, force: force ? 'true' : undefined },
    });
  }
  importRootfs(
    body: () => Readable,
    q: { ref: string; change?: string[]; message?: string; author?: string; platform?: string },
    size?: number,
  ) {
    return this.http.json<Record<string, any>>('/api/v1/images/import', {
      method: 'POST',
      query: q,
      body,
      headers: size !== undefined ? { 'content-length': String(size) } : {},
    });
  }

  // ---- save / load (libs/images: exports.controller.ts, imports.controller.ts)
  createExport(references: string[], compression: 'none' | 'gzip') {
    return this.http.json<JobStatus>('/api/v1/exports', { method: 'POST', json: { references, compression } });
  }
  exportStatus(id: string) {
    return this.http.json<JobStatus>(`/api/v1/exports/${enc(id)}`);
  }
  exportArchive(id: string): Promise<RawResponse> {
    return this.http.stream(`/api/v1/exports/${enc(id)}/archive`);
  }
  deleteExport(id: string) {
    return this.http.json<void>(`/api/v1/exports/${enc(id)}`, { method: 'DELETE' });
  }
  createImport(body: () => Readable, size: number, repository?: string) {
    return this.http.json<JobStatus>('/api/v1/imports', {
      method: 'POST',
      query: { repository },
      body,
      headers: { 'content-length': String(size) },
    });
  }
  importStatus(id: string) {
    return this.http.json<JobStatus>(`/api/v1/imports/${enc(id)}`);
  }

  // ---- containers (issue 7; Docker Engine API shapes where the issue is silent)
  createContainer(name: string, image: string) {
    return this.http.json<ContainerSummary>('/api/v1/containers', { method: 'POST', json: { name, image } });
  }
  async listContainers(): Promise<ContainerSummary[]> {
    const r = await this.http.json<ContainerSummary[] | { items?: ContainerSummary[]; containers?: ContainerSummary[] }>(
      '/api/v1/containers',
    );
    return Array.isArray(r) ? r : (r?.containers ?? r?.items ?? []);
  }

  private readonly containerIds = new Map<string, string>();
  /** The server addresses containers by id; the CLI also takes the name given at create, or an id prefix. */
  private async cid(nameOrId: string): Promise<string> {
    const known = this.containerIds.get(nameOrId);
    if (known) return known;
    const list = await this.listContainers();
    const hit =
      list.find((x) => x.name === nameOrId) ?? list.find((x) => x.id === nameOrId) ?? list.find((x) => !!x.id && x.id.startsWith(nameOrId));
    const id = enc(hit?.id ?? nameOrId);
    this.containerIds.set(nameOrId, id);
    return id;
  }
  async inspectContainer(name: string) {
    return this.http.json<ContainerSummary>(`/api/v1/containers/${await this.cid(name)}`);
  }
  async removeContainer(name: string, force: boolean) {
    return this.http.json<void>(`/api/v1/containers/${await this.cid(name)}`, {
      method: 'DELETE',
      query: { force: force ? 'true' : undefined },
    });
  }
  async pause(name: string) {
    return this.http.json<unknown>(`/api/v1/containers/${await this.cid(name)}/pause`, { method: 'POST' });
  }
  async unpause(name: string) {
    return this.http.json<unknown>(`/api/v1/containers/${await this.cid(name)}/unpause`, { method: 'POST' });
  }
  async changes(name: string) {
    return this.http.json<Array<{ Path?: string; path?: string; Kind?: number | string; kind?: number | string }> | { items: unknown[] }>(
      `/api/v1/containers/${await this.cid(name)}/changes`,
    );
  }
  /**
   * Applies a tar to the container's read-write layer as an upper layer rooted at `/` (the
   * server's `PUT /archive?mode=overlay`): entry names carry the destination path.
   */
  async putArchive(name: string, body: () => Readable) {
    return this.http.json<unknown>(`/api/v1/containers/${await this.cid(name)}/archive`, {
      method: 'PUT',
      query: { mode: 'overlay' },
      body,
      headers: { 'content-type': 'application/x-tar' },
    });
  }
  async statPath(name: string, path: string) {
    return this.http.json<RemoteEntry>(`/api/v1/containers/${await this.cid(name)}/stat`, { query: { path } });
  }
  async listDir(name: string, path: string) {
    return this.http.json<{ entries: RemoteEntry[] }>(`/api/v1/containers/${await this.cid(name)}/dir`, { query: { path } });
  }
  async readFile(name: string, path: string): Promise<RawResponse> {
    return this.http.stream(`/api/v1/containers/${await this.cid(name)}/files`, { query: { path } });
  }
  /**
   * A tar of `path` seen through the container's merged view, top entry named after its basename,
   * built here from the stat, directory and file routes (the server has no tar-out route).
   */
  getArchive(name: string, path: string): Readable {
    const pack = tar.pack();
    const top = posix.basename(posix.resolve('/', path)) || 'root';
    const walk = async (remote: string, entryName: string): Promise<void> => {
      const e = await this.statPath(name, remote);
      const base = { name: entryName, mode: e.mode, uid: e.uid, gid: e.gid, mtime: new Date(e.mtime * 1000) };
      if (e.type === 'directory') {
        pack.entry({ ...base, type: 'directory' });
        const { entries } = await this.listDir(name, remote);
        for (const child of entries.map((c) => posix.basename(c.path)).sort())
          await walk(posix.join(remote, child), `${entryName}/${child}`);
      } else if (e.type === 'symlink') {
        pack.entry({ ...base, type: 'symlink', linkname: e.linkname ?? '' });
      } else if (e.type === 'file') {
        const res = await this.readFile(name, remote);
        await new Promise<void>((resolve, reject) => {
          const entry = pack.entry({ ...base, type: 'file', size: e.size }, (err) => (err ? reject(err) : resolve()));
          pipeline(res.body, entry).catch(reject);
        });
      }
      // Devices and fifos are left out, as docker cp does on the client side.
    };
    walk(posix.resolve('/', path), top).then(
      () => pack.finalize(),
      (err: unknown) => pack.destroy(err as Error),
    );
    return pack as unknown as Readable;
  }

  // ---- commits and jobs (issue 7)
  async commit(spec: CommitSpec) {
    const container = decodeURIComponent(await this.cid(spec.container));
    return this.http.json<JobStatus>('/api/v1/commits', { method: 'POST', json: { ...spec, container } });
  }
  async commitBatch(commits: CommitSpec[]) {
    const resolved = [];
    for (const c of commits) resolved.push({ ...c, container: decodeURIComponent(await this.cid(c.container)) });
    return this.http.json<JobStatus>('/api/v1/commits:batch', { method: 'POST', json: { commits: resolved } });
  }
  listJobs() {
    return this.http.json<JobStatus[] | { items: JobStatus[] }>('/api/v1/jobs');
  }
  job(id: string) {
    return this.http.json<JobStatus>(`/api/v1/jobs/${enc(id)}`);
  }
  jobEvents(id: string): Promise<RawResponse> {
    return this.http.stream(`/api/v1/jobs/${enc(id)}/events`, { headers: { accept: 'text/event-stream' } });
  }

  // ---- registries (libs/upstream)
  replicate(source: string, target: { upstream: string; name: string; tag?: string }) {
    return this.http.json<{ id: string }>('/api/v1/replications', { method: 'POST', json: { source, target } });
  }
  replication(id: string) {
    return this.http.json<JobStatus>(`/api/v1/replications/${enc(id)}`);
  }
  upstreams() {
    return this.http.json<{ upstreams: Array<{ id: string; url: string; prefixes?: string[]; default?: boolean }> }>('/api/v1/upstreams');
  }

  // ---- /v2 (pull through the platform)
  manifest(name: string, reference: string): Promise<RawResponse> {
    return this.http.stream(`/v2/${name}/manifests/${enc(reference)}`, {
      headers: {
        accept: [
          'application/vnd.oci.image.index.v1+json',
          'application/vnd.docker.distribution.manifest.list.v2+json',
          'application/vnd.oci.image.manifest.v1+json',
          'application/vnd.docker.distribution.manifest.v2+json',
        ].join(', '),
      },
    });
  }
  blob(name: string, digest: string): Promise<RawResponse> {
    return this.http.stream(`/v2/${name}/blobs/${digest}`);
  }
}

/** The list endpoints of issue 7 may answer an array or `{items}`; accept both. */
export function itemsOf<T>(v: T[] | { items: T[] } | undefined): T[] {
  if (!v) return [];
  if (Array.isArray(v)) return v;
  // Lists arrive as `{items}` or named after what they hold (`{containers}`, `{changes}`).
  return v.items ?? (Object.values(v).find(Array.isArray) as T[] | undefined) ?? [];
}
