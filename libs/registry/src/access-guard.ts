// How the registry API asks "may this request do that?". The auth lib implements it; without one
// every request is allowed (tests of the API alone, and the anonymous single-user mode).
import type { FastifyRequest } from 'fastify';
import type { AccessRequest, Caller } from '@stevedore/platform';

export type { AccessRequest };

export interface AccessGuard {
  /** Resolve or throw a RegistryError (UNAUTHORIZED with a challenge, or DENIED). */
  check(request: FastifyRequest, access: AccessRequest): Promise<void>;
  /** Whether the request's credentials grant `access` (a token: its access list); throws only on bad credentials. */
  permits(request: FastifyRequest, access: AccessRequest): Promise<boolean>;
  /** Who the request is (credentials verified once per request); throws UNAUTHORIZED on bad credentials. */
  identify(request: FastifyRequest): Promise<Caller>;
  /** Headers to add to an UNAUTHORIZED answer (WWW-Authenticate); several accesses make one space-separated scope. */
  challenge(access: AccessRequest | AccessRequest[], error?: string): Record<string, string>;
}

export const ACCESS_GUARD = Symbol('AccessGuard');
