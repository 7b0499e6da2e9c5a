// A configured upstream registry: where it is, how to log in, and which repository names it serves.
import type { Upstream as UpstreamAnswer, UpstreamRequest } from '@stevedore/api-contract';

/** As stored in `upstreams/<id>.json`; the password only ever sealed (SecretBox). */
export interface UpstreamRecord {
  id: string;
  /** Base URL of the registry, e.g. https://registry-1.docker.io (no /v2). */
  url: string;
  /**
   * Repository-name prefixes served, without a trailing slash: `docker.io`, `quay.io`, `mirror/ghcr`.
   * `docker.io/library/busybox` is served by the upstream with prefix `docker.io` as `library/busybox`.
   */
  prefixes: string[];
  /** Also serves short names (no registry host in the first component), as docker.io does for Docker. */
  default: boolean;
  username?: string;
  /** SecretBox-sealed password or token. */
  passwordSealed?: string;
  createdAt: string;
  updatedAt: string;
}

/** What the API shows (the contract's Upstream): never the secret. */
export type UpstreamView = UpstreamAnswer;

export interface UpstreamCredentials {
  username: string;
  password: string;
}

/** An upstream ready to talk to: the record plus its decrypted credentials. */
export interface Upstream {
  record: UpstreamRecord;
  credentials?: UpstreamCredentials;
}

// The request shape (POST and PUT /api/v1/upstreams) is the API contract's.
export { UpstreamRequestSchema as UpstreamInputSchema } from '@stevedore/api-contract';
export type UpstreamInput = UpstreamRequest;

export function viewOf(r: UpstreamRecord): UpstreamView {
  const v: UpstreamView = {
    id: r.id,
    url: r.url,
    prefixes: r.prefixes,
    default: r.default,
    hasPassword: !!r.passwordSealed,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
  if (r.username) v.username = r.username;
  return v;
}
