// One access policy for every HTTP route: each handler declares who may call it with @Access(...)
// next to its route decorator, and one guard (policy-guard.ts) decides, before the handler runs.
// Handlers never check access by hand; a route without a declaration fails start-up.
//
// The rules (the auth README has the table per role and resource):
// - role: who may call at all (anyone, any signed-in caller, a user with a password, an admin, a
//   split service with the internal token, a metrics scraper);
// - repositories: rights the request needs on repositories it names (pull to read, push to write);
// - resource: the owned thing the route acts on (a container, a job, an export, ...). The owner or
//   an admin may act on it; one the caller may not see answers exactly as a missing one (404, the
//   same body), so ids cannot be probed; one the caller sees but may not change answers DENIED;
//   reading its content also needs pull on its repositories *now* (rights revoked since it was made
//   are honoured).
import { SetMetadata, applyDecorators } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { RegistryError } from '@stevedore/oci';

/** What a request needs on a repository or the registry (the AccessGuard's question). */
export interface AccessRequest {
  type: 'repository' | 'registry' | 'base';
  name: string;
  actions: string[];
}

/** Who is asking, as the policy sees it. */
export interface Caller {
  kind: 'anonymous' | 'user' | 'robot' | 'token';
  /** User or robot name (for a token: its subject). */
  name?: string;
  admin: boolean;
  /** The user whose resources this caller works on: the user, a robot's owner, a token's subject's. */
  actsFor?: string;
}

export const ANONYMOUS_CALLER: Caller = { kind: 'anonymous', admin: false };
/** The caller when auth is off (a private single-user machine): everything is allowed. */
export const UNGUARDED_CALLER: Caller = { kind: 'user', admin: true };

export type Role =
  /** Anyone, anonymous included (health, token endpoint, public reads decided by repositories). */
  | 'anyone'
  /** Any signed-in caller: user, robot or registry token. */
  | 'authenticated'
  /** A user or admin with a password (Basic): account changes must not be made with a token or by a robot. */
  | 'user'
  | 'admin'
  /** Split services among themselves: the shared internal token. */
  | 'internal'
  /** Prometheus: open, or a bearer token when STEVEDORE_METRICS_TOKEN is set. */
  | 'metrics';

export type ResourceAction =
  /** See its record (status, metadata). */
  | 'read'
  /** Read what it holds (files, diff, archive) or copy it (commit): also pull on its repositories now. */
  | 'content'
  /** Change or delete it: owner (or a robot of the owner with push on its repositories) or admin. */
  | 'change';

export interface ResourcePolicy {
  /** The kind a ResourceResolver was registered for ('container', 'commit-job', ...). */
  kind: string;
  action: ResourceAction;
  /** Where the id is: a route parameter (default `id`) or a function of the request (e.g. its body). */
  param?: string;
  ids?: (req: FastifyRequest) => string[];
  /**
   * For `ids` lists (batches): a resource the caller may not see is treated as missing for that item
   * (the handler reports it like a missing one, see hiddenIds), instead of refusing the request.
   */
  perItem?: boolean;
}

export interface RoutePolicy {
  role: Role;
  /** Repository rights the request needs, from its params, query or body (parse errors are a 400). */
  repositories?: (req: FastifyRequest) => AccessRequest[];
  resource?: ResourcePolicy;
  /** Listings: the handler shows only what `AccessPolicy.sees` lets through. Said here so the table tells. */
  lists?: string;
  /** One line for the route table and the OpenAPI document. */
  description?: string;
}

export const ACCESS_POLICY = 'stevedore:access-policy';

/** What the OpenAPI document shows of a policy (functions are described, not serialized). */
export function describePolicy(p: RoutePolicy): Record<string, unknown> {
  const d: Record<string, unknown> = { role: p.role };
  if (p.repositories) d['repositories'] = true;
  if (p.resource) d['resource'] = { kind: p.resource.kind, action: p.resource.action };
  if (p.lists) d['lists'] = p.lists;
  if (p.description) d['description'] = p.description;
  return d;
}

/**
 * Declare a route's access policy (read by the policy guard and shown as `x-access` in OpenAPI); on
 * a controller class it is the policy of every route of it that declares none itself.
 */
export function Access(policy: RoutePolicy): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(ACCESS_POLICY, policy), ApiExtension('x-access', describePolicy(policy)));
}

/** A resource the management API created: whose it is, and which repositories' content it holds. */
export interface OwnedResource {
  /** Undefined for resources made with auth off: only admins see them when auth is on. */
  owner?: string;
  /** Repositories whose content it holds (a container's image) or will write (a commit's target). */
  repositories: string[];
  /**
   * Repositories a robot (or token) of the owner needs push on to change it; defaults to
   * `repositories`. Empty: seeing it is enough (a container is the owner's scratch space).
   */
  writes?: string[];
}

export interface ResourceResolver {
  /** The resource, or undefined when there is none (never throws NOT_FOUND). */
  find(id: string): Promise<OwnedResource | undefined>;
  /** What a missing one answers; one the caller may not see answers the same. */
  notFound(id: string): RegistryError;
}

// Fields the guard leaves on the request for the handler.
interface GuardedRequest {
  stevedoreCaller?: Caller;
  stevedoreHidden?: Set<string>;
}

export function setCaller(req: FastifyRequest, caller: Caller): void {
  (req as FastifyRequest & GuardedRequest).stevedoreCaller = caller;
}

/** The caller the guard identified (UNGUARDED_CALLER when auth is off). */
export function callerOf(req: FastifyRequest): Caller {
  return (req as FastifyRequest & GuardedRequest).stevedoreCaller ?? UNGUARDED_CALLER;
}

/** The owner to record on a resource this request creates. */
export function ownerFor(req: FastifyRequest): string | undefined {
  return callerOf(req).actsFor;
}

export function setHiddenIds(req: FastifyRequest, ids: Set<string>): void {
  (req as FastifyRequest & GuardedRequest).stevedoreHidden = ids;
}

/** Ids of a `perItem` resource list that the caller may not see: report them as missing. */
export function hiddenIds(req: FastifyRequest): ReadonlySet<string> {
  return (req as FastifyRequest & GuardedRequest).stevedoreHidden ?? new Set();
}
