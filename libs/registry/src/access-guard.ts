// How the registry API asks "may this request do that?". The auth lib implements it; without one
// every request is allowed (tests of the API alone, and the anonymous single-user mode).
import type { FastifyRequest } from 'fastify';

export interface AccessRequest {
  type: 'repository' | 'registry' | 'base';
  name: string;
  actions: string[];
}

export interface AccessGuard {
  /** Resolve or throw a RegistryError (UNAUTHORIZED with a challenge, or DENIED). */
  check(request: FastifyRequest, access: AccessRequest): Promise<void>;
  /** Headers to add to an UNAUTHORIZED answer (WWW-Authenticate). */
  challenge(access: AccessRequest, error?: string): Record<string, string>;
}

export const ACCESS_GUARD = Symbol('AccessGuard');
