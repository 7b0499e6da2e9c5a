// The web UI's one data layer: every call to the server goes through here, by the contract's route
// name, and every answer is parsed with the contract's schema (@stevedore/api-contract). Pages ask
// for what they show (repositories, tags, an image); how that maps onto routes is decided here, so
// the repository index and search routes can replace the listing below without touching a page.
import {
  CSRF_HEADER,
  CommitJobSchema,
  CommitProgressSchema,
  ErrorEnvelopeSchema,
  apiRoutes,
  type AnswerOf,
  type ApiRoute,
  type Change,
  type CommitJob,
  type CommitRequest,
  type Container,
  type Entry,
  type HistoryEntry,
  type ImageBrowse,
  type ImageSummary,
  type InspectAnswer,
  type RouteName,
  type Session,
  type SizedChange,
  type TagHistory,
} from '@stevedore/api-contract';
import type { ExportRequest, JobSummary, Referrers, RetentionRule, UpstreamRequest } from '@stevedore/api-contract';

/** A failed call, as the server's error envelope said it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
  }

  /** The session cookie named a session that has ended (expired, signed out elsewhere, password changed). */
  get sessionEnded(): boolean {
    return this.status === 401 && (this.detail as { session?: string } | undefined)?.session === 'ended';
  }
}

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** A raw upload (a file's bytes) sent as the route's `upload` media type instead of a JSON body. */
  upload?: Blob | string;
}

/** The client: a fetch (the browser's, or a test's), the session's anti-CSRF token, who to tell when a session ends. */
export class Api {
  private csrfToken: string | undefined;
  private readonly endedListeners = new Set<() => void>();

  constructor(private readonly fetcher: Fetch = (input, init) => fetch(input, init)) {}

  onSessionEnded(listener: () => void): () => void {
    this.endedListeners.add(listener);
    return () => this.endedListeners.delete(listener);
  }

  async call<N extends RouteName>(name: N, options: CallOptions = {}): Promise<AnswerOf<N>> {
    const route: ApiRoute = apiRoutes[name];
    let url = route.path.replace(/\{(\w+)\}/g, (_, key: string) => encodeURIComponent(options.params?.[key] ?? ''));
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) query.set(k, v);
    if ([...query].length) url += `?${query}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.upload !== undefined) headers['content-type'] = route.upload ?? 'application/octet-stream';
    if (route.method !== 'GET' && this.csrfToken) headers[CSRF_HEADER] = this.csrfToken;
    const r = await this.fetcher(url, {
      method: route.method,
      headers,
      body: options.upload ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
      credentials: 'same-origin',
    });
    const text = await r.text();
    if (!r.ok) {
      const envelope = ErrorEnvelopeSchema.safeParse(text ? safeJson(text) : undefined);
      const first = envelope.success ? envelope.data.errors[0] : { code: 'UNKNOWN', message: `${r.status} ${r.statusText}` };
      const error = new ApiError(r.status, first.code, first.message, first.detail);
      if (error.sessionEnded) for (const l of this.endedListeners) l();
      throw error;
    }
    // A download (a container's file) answers its bytes as text; other answers without a schema are empty.
    if (!route.response) return (route.produces ? text : undefined) as AnswerOf<N>;
    return route.response.parse(safeJson(text)) as AnswerOf<N>;
  }

  // ---- the session

  async signIn(username: string, password: string): Promise<Session> {
    const s = await this.call('createSession', { body: { username, password } });
    this.csrfToken = s.csrfToken;
    return s;
  }

  /** The current session; undefined when there is none (anonymous). */
  async session(): Promise<Session | undefined> {
    try {
      const s = await this.call('getSession');
      this.csrfToken = s.csrfToken;
      return s;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401 && !e.sessionEnded) return undefined;
      throw e;
    }
  }

  /** Sign out (also clears the cookie of a session that already ended). */
  async signOut(): Promise<void> {
    await this.call('deleteSession');
    this.csrfToken = undefined;
  }

  // ---- what the pages show

  /** Repositories the caller may pull (the server's repository index): searched, sorted, a page at a time. */
  async repositories(query: { q?: string; sort?: RepositorySort; cursor?: string } = {}): Promise<AnswerOf<'listRepositories'>> {
    return this.call('listRepositories', { query: { q: query.q || undefined, sort: query.sort, cursor: query.cursor, n: '50' } });
  }

  async tags(repository: string): Promise<ImageSummary[]> {
    const out: ImageSummary[] = [];
    let last: string | undefined;
    do {
      const page = await this.call('listImages', { query: { repository, n: '500', last } });
      out.push(...page.items.filter((i) => i.repository === repository));
      last = page.next;
    } while (last);
    return out;
  }

  /** A path of an image's union filesystem, with the layer each entry comes from. */
  async files(reference: string, path: string): Promise<ImageBrowse> {
    return this.call('browseImage', { query: { ref: reference, path } });
  }

  /** A layer's changeset (A/C/D) against the layers below it, or the image's against `from`. */
  async changes(reference: string, options: { layer?: number; from?: string }): Promise<SizedChange[]> {
    const query = { ref: reference, layer: options.layer === undefined ? undefined : String(options.layer), from: options.from };
    return (await this.call('imageChanges', { query })).changes;
  }

  /** Where a tag has pointed, newest first. */
  async tagHistory(reference: string): Promise<TagHistory> {
    return this.call('tagHistory', { query: { ref: reference } });
  }

  /** Point a tag back at a digest it named before. */
  async restoreTag(reference: string, digest: string): Promise<void> {
    await this.call('restoreTag', { body: { ref: reference, digest } });
  }

  // ---- single files, referrers, jobs and admin (issue 23)

  /** Where the browser downloads one file of an image (a plain link: the session cookie goes with it). */
  fileDownloadUrl(reference: string, path: string): string {
    return `${apiRoutes.readImageFile.path}?${new URLSearchParams({ ref: reference, path })}`;
  }

  /** The signatures, SBOMs and other artifacts that name the image as their subject. */
  async referrers(reference: string): Promise<Referrers> {
    return this.call('imageReferrers', { query: { ref: reference } });
  }

  /** The newest jobs of every queue the caller may see (their own; an admin's: everyone's). */
  async jobs(): Promise<JobSummary[]> {
    return (await this.call('listJobs', { query: { n: '200' } })).items;
  }

  /** A job's own status route, for what the list does not carry: progress, and an export's archive. */
  async jobStatus(job: Pick<JobSummary, 'id' | 'kind'>): Promise<JobProgress> {
    const params = { id: job.id };
    switch (job.kind) {
      case 'export': {
        const s = await this.call('exportStatus', { params });
        return { percent: s.progress?.percent, phase: s.progress?.phase, archiveBytes: s.result?.archive.size };
      }
      case 'import': {
        const s = await this.call('importStatus', { params });
        return { percent: s.progress?.percent, phase: s.progress?.phase, loaded: s.result?.loaded };
      }
      case 'commit':
      case 'batch': {
        const p = (await this.call('job', { params })).progress;
        return { percent: p && p.totalBytes ? (100 * p.bytes) / p.totalBytes : undefined, phase: p?.phase };
      }
      case 'replicate': {
        const p = (await this.call('replication', { params })).progress;
        return { percent: p && p.bytes.total ? (100 * p.bytes.done) / p.bytes.total : undefined, phase: p?.phase };
      }
      case 'gc': {
        const s = await this.call('gcRun', { params });
        return { phase: s.progress?.phase, bytesFreed: s.result?.bytesFreed };
      }
    }
  }

  /** Cancel a commit or batch job (the only kinds the server cancels). */
  async cancelJob(id: string): Promise<void> {
    await this.call('cancelJob', { params: { id } });
  }

  /** `docker save`, as a job. */
  async startExport(request: ExportRequest): Promise<AnswerOf<'createExport'>> {
    return this.call('createExport', { body: request });
  }

  exportArchiveUrl(id: string): string {
    return apiRoutes.exportArchive.path.replace('{id}', encodeURIComponent(id));
  }

  async removeExport(id: string): Promise<void> {
    await this.call('deleteExport', { params: { id } });
  }

  /**
   * `docker load` (a save archive, as a job) or `docker import` (a root filesystem tarball made into
   * `reference`), uploaded with the browser's XMLHttpRequest: fetch reports no upload progress.
   */
  async upload(
    kind: 'load' | 'import',
    file: Blob,
    options: { repository?: string; reference?: string },
    onProgress: (sent: number, total: number) => void,
  ): Promise<AnswerOf<'createImport'> | AnswerOf<'importRootfs'>> {
    const name = kind === 'load' ? 'createImport' : 'importRootfs';
    const route: ApiRoute = apiRoutes[name];
    const query = new URLSearchParams();
    if (kind === 'load' && options.repository) query.set('repository', options.repository);
    if (kind === 'import') query.set('ref', options.reference ?? '');
    const headers: Record<string, string> = { accept: 'application/json', 'content-type': route.upload ?? 'application/octet-stream' };
    if (this.csrfToken) headers[CSRF_HEADER] = this.csrfToken;
    const r = await this.uploader(`${route.path}${[...query].length ? `?${query}` : ''}`, headers, file, onProgress);
    if (r.status < 200 || r.status >= 300) {
      const envelope = ErrorEnvelopeSchema.safeParse(safeJson(r.text));
      const first = envelope.success ? envelope.data.errors[0] : { code: 'UNKNOWN', message: `${r.status}` };
      const error = new ApiError(r.status, first.code, first.message, first.detail);
      if (error.sessionEnded) for (const l of this.endedListeners) l();
      throw error;
    }
    return route.response!.parse(safeJson(r.text)) as AnswerOf<'createImport'> | AnswerOf<'importRootfs'>;
  }

  /** How uploads are sent; the browser's XMLHttpRequest, a component test's stand-in. */
  uploader: Uploader = xhrUpload;

  // users and robots (the server allows users to admins only; anyone signed in has robots)
  async users() {
    return this.call('listUsers');
  }
  async createUser(name: string, password: string, admin: boolean): Promise<void> {
    await this.call('createUser', { body: { name, password, admin } });
  }
  async updateUser(name: string, change: { password?: string; disabled?: boolean; admin?: boolean }): Promise<void> {
    await this.call('updateUser', { params: { name }, body: change });
  }
  async removeUser(name: string): Promise<void> {
    await this.call('removeUser', { params: { name } });
  }
  async robots() {
    return (await this.call('listRobots')).robots;
  }
  async createRobot(name: string, repository: string, actions: Array<'pull' | 'push' | 'delete'>) {
    return this.call('createRobot', { body: { name, scopes: [{ repository, actions }] } });
  }
  async removeRobot(name: string): Promise<void> {
    await this.call('removeRobot', { params: { name } });
  }

  // upstreams, retention, quotas, GC
  async upstreams() {
    return (await this.call('listUpstreams')).upstreams;
  }
  async createUpstream(upstream: UpstreamRequest): Promise<void> {
    await this.call('createUpstream', { body: upstream });
  }
  async removeUpstream(id: string): Promise<void> {
    await this.call('removeUpstream', { params: { id } });
  }
  async retentionRules() {
    return (await this.call('listRetention')).rules;
  }
  async putRetentionRule(rule: RetentionRule): Promise<void> {
    await this.call('putRetention', { body: rule });
  }
  async removeRetentionRule(repository: string): Promise<void> {
    await this.call('deleteRetention', { query: { repository } });
  }
  async quotas() {
    return (await this.call('listQuotas')).quotas;
  }
  async setQuota(namespace: string, limitBytes: number): Promise<void> {
    await this.call('putQuota', { params: { namespace }, body: { limitBytes } });
  }
  async removeQuota(namespace: string): Promise<void> {
    await this.call('deleteQuota', { params: { namespace } });
  }
  async gcRuns() {
    return (await this.call('listGcRuns')).runs;
  }
  async runGc(dryRun: boolean) {
    return this.call('runGc', { body: { dryRun } });
  }

  async image(reference: string): Promise<{ inspect: InspectAnswer; history: HistoryEntry[] }> {
    const inspect = await this.call('inspectImage', { query: { ref: reference } });
    // An index has no history of its own: each platform's image does.
    const history = 'Config' in inspect ? await this.call('imageHistory', { query: { ref: reference } }) : [];
    return { inspect, history };
  }

  /** Remove one tag (the image stays while another tag or digest names it). */
  /** docker rmi: untags `reference` and deletes the manifest once no tag names it (a digest: deletes it). */
  async removeImage(reference: string): Promise<AnswerOf<'removeImage'>> {
    return this.call('removeImage', { query: { ref: reference } });
  }

  async untag(reference: string): Promise<void> {
    await this.call('untagImage', { query: { ref: reference } });
  }

  // ---- containers (libs/containers) and their commits (libs/commits)

  /** The caller's containers (an admin's: everyone's), as the server filters them. */
  async containers(): Promise<Container[]> {
    return (await this.call('listContainers')).containers;
  }

  async createContainer(image: string, name?: string): Promise<Container> {
    return this.call('createContainer', { body: { image, ...(name ? { name } : {}) } });
  }

  async container(id: string): Promise<Container> {
    return this.call('inspectContainer', { params: { id } });
  }

  async removeContainer(id: string): Promise<void> {
    await this.call('removeContainer', { params: { id } });
  }

  /** A directory of the container's merged view (image layers under its read-write layer). */
  async containerDir(id: string, path: string): Promise<Entry[]> {
    return (await this.call('listDir', { params: { id }, query: { path } })).entries;
  }

  async containerStat(id: string, path: string): Promise<Entry> {
    return this.call('statPath', { params: { id }, query: { path } });
  }

  /** A file's content as text (the page edits only small text files). */
  async readContainerFile(id: string, path: string): Promise<string> {
    return (await this.call('readFile', { params: { id }, query: { path } })) as unknown as string;
  }

  /** Write a file's bytes; `mode` is octal (`0644`); owner ids kept as given (an edit keeps the file's). */
  async writeContainerFile(
    id: string,
    path: string,
    content: Blob | string,
    owner: { mode?: string; uid?: number; gid?: number } = {},
  ): Promise<Entry> {
    const query = { path, mode: owner.mode, uid: owner.uid?.toString(), gid: owner.gid?.toString() };
    return this.call('writeFile', { params: { id }, query, upload: content });
  }

  /** Delete a path: an image's file gets a whiteout in the read-write layer, an added one just goes. */
  async removeContainerPath(id: string, path: string, recursive = false): Promise<void> {
    await this.call('removeFile', { params: { id }, query: { path, recursive: recursive ? 'true' : undefined } });
  }

  /** `docker diff`: the read-write layer's changes against the image. */
  async containerChanges(id: string): Promise<Change[]> {
    return (await this.call('containerChanges', { params: { id } })).changes;
  }

  async pauseContainer(id: string): Promise<Container> {
    return this.call('pauseContainer', { params: { id } });
  }

  async unpauseContainer(id: string): Promise<Container> {
    return this.call('unpauseContainer', { params: { id } });
  }

  async commit(request: CommitRequest): Promise<CommitJob> {
    return this.call('commit', { body: request });
  }

  /** Several commits as one batch job; the answer names each child job. */
  async commitBatch(requests: CommitRequest[]): Promise<AnswerOf<'commitBatch'>> {
    return this.call('commitBatch', { body: { commits: requests } });
  }

  async job(id: string): Promise<CommitJob> {
    return this.call('job', { params: { id } });
  }

  /**
   * Follow a commit job's event stream (`GET /api/v1/jobs/{id}/events`) until the server ends it:
   * `status`, `completed` and `failed` carry the whole job, `progress` the worker's progress. Read
   * with fetch rather than EventSource, which reconnects by itself after the server's end and so
   * would replay a finished job forever; fetch also goes through the test's fake server.
   */
  async watchJob(id: string, onEvent: (event: JobEvent) => void, signal?: AbortSignal): Promise<void> {
    const url = apiRoutes.jobEvents.path.replace('{id}', encodeURIComponent(id));
    const r = await this.fetcher(url, { method: 'GET', headers: { accept: 'text/event-stream' }, credentials: 'same-origin', signal });
    if (!r.ok || !r.body) throw new ApiError(r.status, 'UNKNOWN', `${r.status} ${r.statusText}`);
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const event = parseEvent(block);
        if (event) onEvent(event);
      }
    }
  }
}

/** One event of a job's stream. */
export type JobEvent =
  { type: 'status' | 'completed' | 'failed'; job: CommitJob } | { type: 'progress'; progress: NonNullable<CommitJob['progress']> };

function parseEvent(block: string): JobEvent | undefined {
  let type = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) type = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (!data.length) return undefined; // a keep-alive comment
  const value = safeJson(data.join('\n'));
  if (type === 'progress') {
    const progress = CommitProgressSchema.safeParse(value);
    return progress.success ? { type, progress: progress.data } : undefined;
  }
  if (type === 'status' || type === 'completed' || type === 'failed') {
    const job = CommitJobSchema.safeParse(value);
    return job.success ? { type, job: job.data } : undefined;
  }
  return undefined;
}

export type RepositorySort = 'name' | 'pushed' | 'pulls';

/** What a job's own status route adds to its row in the list. */
export interface JobProgress {
  percent?: number;
  phase?: string;
  /** A finished export's archive size. */
  archiveBytes?: number;
  /** A finished load's `Loaded image: …` lines. */
  loaded?: string[];
  /** A finished GC run's bytes freed (or, dry, that it would free). */
  bytesFreed?: number;
}

export type Uploader = (
  url: string,
  headers: Record<string, string>,
  body: Blob,
  onProgress: (sent: number, total: number) => void,
) => Promise<{ status: number; text: string }>;

const xhrUpload: Uploader = (url, headers, body, onProgress) =>
  new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.withCredentials = true;
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : body.size);
    xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
    xhr.onerror = () => reject(new Error('the upload failed (network)'));
    xhr.onabort = () => reject(new Error('the upload was stopped'));
    xhr.send(body);
  });

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
