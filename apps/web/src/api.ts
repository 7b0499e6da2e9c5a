// The web UI's one data layer: every call to the server goes through here, by the contract's route
// name, and every answer is parsed with the contract's schema (@stevedore/api-contract). Pages ask
// for what they show (repositories, tags, an image); how that maps onto routes is decided here, so
// the repository index and search routes can replace the listing below without touching a page.
import {
  CSRF_HEADER,
  ErrorEnvelopeSchema,
  apiRoutes,
  type AnswerOf,
  type ApiRoute,
  type HistoryEntry,
  type ImageBrowse,
  type ImageSummary,
  type InspectAnswer,
  type RouteName,
  type Session,
  type SizedChange,
  type TagHistory,
} from '@stevedore/api-contract';

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
    if (route.method !== 'GET' && this.csrfToken) headers[CSRF_HEADER] = this.csrfToken;
    const r = await this.fetcher(url, {
      method: route.method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
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
    if (!route.response) return undefined as AnswerOf<N>;
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

  async image(reference: string): Promise<{ inspect: InspectAnswer; history: HistoryEntry[] }> {
    const inspect = await this.call('inspectImage', { query: { ref: reference } });
    // An index has no history of its own: each platform's image does.
    const history = 'Config' in inspect ? await this.call('imageHistory', { query: { ref: reference } }) : [];
    return { inspect, history };
  }
}

export type RepositorySort = 'name' | 'pushed' | 'pulls';

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
