// Every call the CLI makes to the platform, in one place. /api/v1 calls go through `call`: the route
// (method, path, answer schema) comes from the API contract (libs/api-contract), which the server
// validates and documents with, so the CLI cannot ask for a route or read a field the server lacks.
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import type { AnswerOf, ApiRoute, CommitRequest, Container, RouteName } from '@stevedore/api-contract';
import { CliError } from './errors';
import type { HttpClient, RequestOptions, RawResponse } from './http-client';

/** Shapes of the answers, from the API contract the server validates and documents with. */
export type { CommitRequest as CommitSpec, Container, Entry as RemoteEntry, HistoryEntry, ImageSummary } from '@stevedore/api-contract';

/** What every job route answers, whichever kind: what waiting for a job reads. */
export type JobStatus = AnswerOf<'job'> | AnswerOf<'exportStatus'> | AnswerOf<'importStatus'> | AnswerOf<'replication'>;

const enc = encodeURIComponent;

// The contract's zod schemas take a fifth of a start to build: they are loaded by the first call, so
// `--version`, `--help` and usage errors never build them.
let contractModule: Promise<[typeof import('@stevedore/api-contract'), typeof import('zod')]> | undefined;
const contract = () => (contractModule ??= Promise.all([import('@stevedore/api-contract'), import('zod')]));

export class StevedoreApi {
  constructor(readonly http: HttpClient) {}

  /**
   * Calls a route of the API contract and parses its answer through the route's schema: an answer
   * the contract does not accept is an error here, not a field read as undefined later.
   */
  async call<N extends RouteName>(name: N, path: string, opts: Omit<RequestOptions, 'method'> = {}): Promise<AnswerOf<N>> {
    const [{ apiRoutes, routeFor }, { z }] = await contract();
    const route: ApiRoute = apiRoutes[name];
    if (routeFor(route.method, path) !== route) throw new Error(`${path} is not the path of ${route.method} ${route.path}`);
    const answer = await this.http.json(path, { ...opts, method: route.method });
    if (!route.response) return undefined as AnswerOf<N>;
    const parsed = route.response.safeParse(answer);
    if (!parsed.success)
      throw new CliError(
        `the server's answer to ${route.method} ${route.path} does not match this CLI's API contract:\n${z.prettifyError(parsed.error)}`,
        'UNEXPECTED_ANSWER',
        'the server and this CLI are of different versions',
      );
    // The schema is the route's own (apiRoutes[name]); TypeScript cannot follow that through the index.
    return parsed.data as AnswerOf<N>;
  }

  // ---- images (libs/images: images.controller.ts)
  listImages(q: { repository?: string; n?: number; last?: string } = {}) {
    return this.call('listImages', '/api/v1/images', { query: q });
  }
  inspectImage(ref: string) {
    return this.call('inspectImage', '/api/v1/images/inspect', { query: { ref } });
  }
  /** The image an image ID or a 4-64 hex prefix of one names, in every repository the caller may pull. */
  resolveImageId(id: string) {
    return this.call('resolveImageId', `/api/v1/image-ids/${enc(id)}`);
  }
  history(ref: string) {
    return this.call('imageHistory', '/api/v1/images/history', { query: { ref } });
  }
  tag(source: string, target: string) {
    return this.call('tagImage', '/api/v1/images/tag', { json: { source, target } });
  }
  removeImage(ref: string, force: boolean) {
    return this.call('removeImage', '/api/v1/images', { query: { ref, force: force ? 'true' : undefined } });
  }
  importRootfs(
    body: () => Readable,
    q: { ref: string; change?: string[]; message?: string; author?: string; platform?: string; source?: string },
    size?: number,
  ) {
    return this.call('importRootfs', '/api/v1/images/import', {
      query: q,
      body,
      headers: size !== undefined ? { 'content-length': String(size) } : {},
    });
  }

  // ---- save / load (libs/images: exports.controller.ts, imports.controller.ts)
  createExport(references: string[], compression: 'none' | 'gzip' | 'zstd') {
    return this.call('createExport', '/api/v1/exports', { json: { references, compression } });
  }
  exportStatus(id: string) {
    return this.call('exportStatus', `/api/v1/exports/${enc(id)}`);
  }
  exportArchive(id: string): Promise<RawResponse> {
    return this.http.stream(`/api/v1/exports/${enc(id)}/archive`);
  }
  deleteExport(id: string) {
    return this.call('deleteExport', `/api/v1/exports/${enc(id)}`);
  }
  /** `size` undefined (standard input): the body goes chunked. */
  createImport(body: () => Readable, size: number | undefined, repository?: string) {
    return this.call('createImport', '/api/v1/imports', {
      query: { repository },
      body,
      headers: size === undefined ? {} : { 'content-length': String(size) },
    });
  }
  importStatus(id: string) {
    return this.call('importStatus', `/api/v1/imports/${enc(id)}`);
  }

  // ---- containers (libs/containers)
  createContainer(name: string | undefined, image: string) {
    return this.call('createContainer', '/api/v1/containers', { json: name === undefined ? { image } : { name, image } });
  }
  async listContainers(): Promise<Container[]> {
    return (await this.call('listContainers', '/api/v1/containers')).containers;
  }

  private readonly containerIds = new Map<string, string>();
  /** The server addresses containers by id; the CLI also takes the name given at create, or an id prefix. */
  private async cid(nameOrId: string): Promise<string> {
    const known = this.containerIds.get(nameOrId);
    if (known) return known;
    const list = await this.listContainers();
    const hit = list.find((x) => x.name === nameOrId) ?? list.find((x) => x.id === nameOrId) ?? list.find((x) => x.id.startsWith(nameOrId));
    // Docker's words: the caller's list is all it may see, so a miss there is a miss.
    if (!hit) throw new CliError(`No such container: ${nameOrId}`, undefined, undefined, 1, 404);
    const id = enc(hit.id);
    this.containerIds.set(nameOrId, id);
    return id;
  }
  async inspectContainer(name: string) {
    return this.call('inspectContainer', `/api/v1/containers/${await this.cid(name)}`);
  }
  async removeContainer(name: string, force: boolean) {
    return this.call('removeContainer', `/api/v1/containers/${await this.cid(name)}`, { query: { force: force ? 'true' : undefined } });
  }
  async pause(name: string) {
    return this.call('pauseContainer', `/api/v1/containers/${await this.cid(name)}/pause`);
  }
  async unpause(name: string) {
    return this.call('unpauseContainer', `/api/v1/containers/${await this.cid(name)}/unpause`);
  }
  async changes(name: string) {
    return (await this.call('containerChanges', `/api/v1/containers/${await this.cid(name)}/changes`)).changes;
  }
  /**
   * Applies a tar to the container's read-write layer as an upper layer rooted at `/` (the
   * server's `PUT /archive?mode=overlay`): entry names carry the destination path.
   */
  async putArchive(name: string, body: () => Readable) {
    return this.call('putArchive', `/api/v1/containers/${await this.cid(name)}/archive`, {
      query: { mode: 'overlay' },
      body,
      headers: { 'content-type': 'application/x-tar' },
    });
  }
  async statPath(name: string, path: string) {
    return this.call('statPath', `/api/v1/containers/${await this.cid(name)}/stat`, { query: { path } });
  }
  async listDir(name: string, path: string) {
    return this.call('listDir', `/api/v1/containers/${await this.cid(name)}/dir`, { query: { path } });
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
    // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Readable types.
    return pack as unknown as Readable;
  }

  // ---- commits and jobs (issue 7)
  async commit(spec: CommitRequest) {
    const container = decodeURIComponent(await this.cid(spec.container));
    return this.call('commit', '/api/v1/commits', { json: { ...spec, container } });
  }
  async commitBatch(commits: CommitRequest[]) {
    const resolved: CommitRequest[] = [];
    for (const c of commits) resolved.push({ ...c, container: decodeURIComponent(await this.cid(c.container)) });
    return this.call('commitBatch', '/api/v1/commits:batch', { json: { commits: resolved } });
  }
  job(id: string) {
    return this.call('job', `/api/v1/jobs/${enc(id)}`);
  }
  jobEvents(id: string): Promise<RawResponse> {
    return this.http.stream(`/api/v1/jobs/${enc(id)}/events`, { headers: { accept: 'text/event-stream' } });
  }

  // ---- registries (libs/upstream)
  replicate(source: string, target: { upstream: string; name: string; tag?: string }) {
    return this.call('replicate', '/api/v1/replications', { json: { source, target } });
  }
  replication(id: string) {
    return this.call('replication', `/api/v1/replications/${enc(id)}`);
  }
  upstreams() {
    return this.call('listUpstreams', '/api/v1/upstreams');
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
