// A management route's query string through its contract schema (libs/api-contract queries.ts):
// a value the route does not accept is a 400 in the OCI envelope naming the parameter, before the
// handler reads anything.
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { RegistryError, parseLocalReference } from '@stevedore/oci';
import type { AccessRequest } from './access-policy';

export function parseQuery<T>(schema: z.ZodType<T>, query: unknown): T {
  const r = schema.safeParse(query ?? {});
  if (!r.success) {
    const first = r.error.issues[0];
    throw new RegistryError('INVALID_REQUEST', `invalid query parameter ${first.path.join('.') || '(query)'}: ${first.message}`, {
      issues: r.error.issues.slice(0, 10).map((i) => ({ parameter: i.path.join('.'), message: i.message })),
    });
  }
  return r.data;
}

/**
 * An @Access policy's repositories for a route that names images in its query string: `actions` on
 * the repository of each of `params` that is given. The first is required: without it the request
 * is a 400 naming it, before any handler runs.
 */
export function queryRepositories(actions: string[], ...params: [string, ...string[]]): (req: FastifyRequest) => AccessRequest[] {
  return (req) => {
    const q = (req.query ?? {}) as Record<string, unknown>;
    const first = params[0];
    if (typeof q[first] !== 'string' || !q[first])
      throw new RegistryError('INVALID_REQUEST', `query parameter "${first}" is required`, { parameter: first });
    return params
      .map((p) => q[p])
      .filter((v): v is string => typeof v === 'string' && v !== '')
      .map((ref) => ({ type: 'repository', name: parseLocalReference(ref, { defaultTag: true }).name, actions }));
  };
}
