// For component tests: a small in-memory stand-in for the platform's /api/v1, answering only what
// a test gives it. Answers are checked against the contract's schemas as they are made, so a test
// cannot feed the page a shape the real server would never send.
import { apiRoutes, routeFor, type RouteName } from '@stevedore/api-contract';
import type { Fetch } from './api';

export interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: unknown;
}

/** `text` answers a raw body (a file's bytes, an event stream) instead of JSON. */
type Handler = (req: Sent) => { status: number; body?: unknown; text?: string };

export function fakeServer(handlers: Partial<Record<RouteName, Handler>>): { fetch: Fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const fetch: Fetch = async (url, init) => {
    const req: Sent = {
      method: init.method ?? 'GET',
      url,
      headers: (init.headers ?? {}) as Record<string, string>,
      // JSON bodies parsed; an upload (a file's bytes) kept as it was sent.
      body: init.body ? (headersOf(init)['content-type'] === 'application/json' ? JSON.parse(String(init.body)) : init.body) : undefined,
    };
    sent.push(req);
    const route = routeFor(req.method, url);
    const name = (Object.keys(apiRoutes) as RouteName[]).find((n) => apiRoutes[n] === route);
    const handler = name ? handlers[name] : undefined;
    if (!name || !handler) return json(404, { errors: [{ code: 'NOT_FOUND', message: `no fake for ${req.method} ${url}` }] });
    const answer = handler(req);
    if (answer.text !== undefined) return new Response(answer.text, { status: answer.status });
    const schema = (apiRoutes[name] as { response?: { parse(v: unknown): unknown } }).response;
    if (answer.status < 300 && schema) schema.parse(answer.body);
    return answer.body === undefined ? new Response(null, { status: answer.status }) : json(answer.status, answer.body);
  };
  return { fetch, sent };
}

const headersOf = (init: RequestInit) => (init.headers ?? {}) as Record<string, string>;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

export const error = (status: number, code: string, message: string, detail?: unknown) => ({
  status,
  body: { errors: [{ code, message, ...(detail === undefined ? {} : { detail }) }] },
});
