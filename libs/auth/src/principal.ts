// Who is asking, and what the rules let them do. Pure: the same rules decide what a token grants
// and what a request with Basic credentials may do.
import type { z } from 'zod';
import type { RobotScopeSchema } from '@stevedore/api-contract';

/** A robot's grant, as created through the API: a repository name or a `team/*` pattern, and actions. */
export type RobotScope = z.infer<typeof RobotScopeSchema>;

export interface Principal {
  /** User or robot name; undefined for anonymous. */
  name?: string;
  admin: boolean;
  /** Robots act only within their scopes. */
  robotScopes?: RobotScope[];
  /** A robot's owner: it acts for this user, within its scopes and the owner's own rights. */
  owner?: string;
}

export const ANONYMOUS: Principal = { admin: false };

export interface ResourceRequest {
  type: 'repository' | 'registry' | 'base';
  name: string;
  actions: string[];
}

function matches(pattern: string, name: string): boolean {
  return pattern.endsWith('/*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

/**
 * The actions of `request` that `principal` is granted. Rules: admins may do everything; a user
 * owns `<user>/*` (pull, push, delete); anyone, anonymous included, may pull a public repository;
 * robots get exactly their listed scopes; nothing else, and never an anonymous push.
 */
export function grantedActions(principal: Principal, request: ResourceRequest, isPublic: boolean): string[] {
  const want = [...new Set(request.actions)];
  if (request.type === 'base') return [];
  if (principal.admin) return want;
  if (request.type === 'registry') return [];
  const granted = new Set<string>();
  if (isPublic && want.includes('pull')) granted.add('pull');
  if (principal.robotScopes) {
    for (const s of principal.robotScopes) {
      if (matches(s.repository, request.name)) for (const a of s.actions) if (want.includes(a) || a === '*') granted.add(a);
    }
    if (granted.has('*')) return want;
  } else if (principal.name && request.name.startsWith(`${principal.name}/`)) {
    for (const a of want) if (a === 'pull' || a === 'push' || a === 'delete' || a === '*') granted.add(a);
  }
  return want.filter((a) => granted.has(a));
}

/** `repository:name:pull,push` scopes, as clients send them (several may be given). */
export function parseScope(scope: string): ResourceRequest | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  const type = scope.slice(0, first);
  if (type !== 'repository' && type !== 'registry') return undefined;
  const name = scope.slice(first + 1, last);
  const actions = scope
    .slice(last + 1)
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (!name || !actions.length) return undefined;
  return { type, name, actions };
}
