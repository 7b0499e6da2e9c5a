// A management route's query string through its contract schema (libs/api-contract queries.ts):
// a value the route does not accept is a 400 in the OCI envelope naming the parameter, before the
// handler reads anything.
import type { z } from 'zod';
import { RegistryError } from '@stevedore/oci';

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
