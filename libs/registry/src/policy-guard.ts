// The one place management requests are authorized: a global Nest guard reads the route's declared
// RoutePolicy (access-policy.ts) and decides before the handler runs. Resources are found through
// the resolver their own module registered, so the guard knows nothing of containers or jobs.
import {
  Global,
  Inject,
  Injectable,
  Module,
  Optional,
  RequestMethod,
  type CanActivate,
  type ExecutionContext,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { APP_GUARD, DiscoveryModule, DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { RegistryError } from '@stevedore/oci';
import { ACCESS_GUARD, type AccessGuard, type AccessRequest } from './access-guard';
import {
  CONFIG,
  checkInternalToken,
  secretMatches,
  type StevedoreConfig,
  ACCESS_POLICY,
  ANONYMOUS_CALLER,
  UNGUARDED_CALLER,
  callerOf,
  setCaller,
  setHiddenIds,
  type Caller,
  type OwnedResource,
  type ResourceResolver,
  type RoutePolicy,
} from '@stevedore/platform';

/** Resolvers by resource kind; each domain module registers its own at init. */
@Injectable()
export class ResourceRegistry {
  private readonly resolvers = new Map<string, ResourceResolver>();

  register(kind: string, resolver: ResourceResolver): void {
    this.resolvers.set(kind, resolver);
  }

  get(kind: string): ResourceResolver {
    const r = this.resolvers.get(kind);
    // A wiring bug, not a caller's fault: the route names a kind no module of this process owns.
    if (!r) throw new Error(`no resolver registered for resource kind "${kind}"`);
    return r;
  }
}

const repo = (name: string, actions: string[]): AccessRequest => ({ type: 'repository', name, actions });

/** The decisions, usable by handlers that list (sees) and by the guard (authorize). */
@Injectable()
export class AccessPolicy {
  constructor(
    private readonly resources: ResourceRegistry,
    @Inject(CONFIG) private readonly config: StevedoreConfig,
    @Optional() @Inject(ACCESS_GUARD) private readonly guard?: AccessGuard,
  ) {}

  /** Whether the request's caller may do `access` now (listings filter with it). */
  async permits(req: FastifyRequest, access: AccessRequest): Promise<boolean> {
    return this.guard ? this.guard.permits(req, access) : true;
  }

  /** Whether the caller may see `r` at all: admin, or its owner (a robot or token: within its pull rights). */
  async sees(req: FastifyRequest, r: OwnedResource): Promise<boolean> {
    const c = callerOf(req);
    if (c.admin) return true;
    if (!c.actsFor || r.owner !== c.actsFor) return false;
    if (c.kind === 'user') return true;
    for (const name of r.repositories) if (!(await this.permits(req, repo(name, ['pull'])))) return false;
    return true;
  }

  /** Whether the caller may change `r` (it sees it): admin, the owner, or a robot/token with push on its repositories. */
  async mayChange(req: FastifyRequest, r: OwnedResource): Promise<boolean> {
    if (!(await this.sees(req, r))) return false;
    const c = callerOf(req);
    if (c.admin || c.kind === 'user') return true;
    for (const name of r.writes ?? r.repositories) if (!(await this.permits(req, repo(name, ['pull', 'push'])))) return false;
    return true;
  }

  private async identify(req: FastifyRequest, policy: RoutePolicy): Promise<Caller> {
    if (!this.guard) {
      // No auth in this process: allowed only where auth is switched off (a private single-user machine).
      if (this.config.STEVEDORE_AUTH && policy.role !== 'anyone') {
        throw new RegistryError('UNAUTHORIZED', 'this route needs authentication, which is not wired into this process');
      }
      return UNGUARDED_CALLER;
    }
    const needsCaller = policy.role !== 'anyone' || policy.repositories || policy.resource || policy.lists;
    return needsCaller ? this.guard.identify(req) : ANONYMOUS_CALLER;
  }

  private checkRole(caller: Caller, policy: RoutePolicy): void {
    if (!this.guard || policy.role === 'anyone') return;
    if (caller.kind === 'anonymous') throw new RegistryError('UNAUTHORIZED', 'authentication required');
    // Accounts and the operator's API take a password: a registry token (scoped, perhaps handed to
    // CI) carries repository rights only, whoever it was issued to.
    if ((policy.role === 'user' || policy.role === 'admin') && caller.kind === 'token') {
      throw new RegistryError('UNAUTHORIZED', 'this endpoint takes a user name and password (Basic), not a token');
    }
    if (policy.role === 'user' && caller.kind === 'robot') throw new RegistryError('DENIED', 'robot accounts may not manage accounts');
    if (policy.role === 'admin' && !caller.admin) throw new RegistryError('DENIED', 'only an admin may do this');
  }

  private metricsToken(req: FastifyRequest): void {
    const token = this.config.STEVEDORE_METRICS_TOKEN;
    if (token && !secretMatches(req.headers.authorization, `Bearer ${token}`))
      throw new RegistryError('UNAUTHORIZED', 'metrics need the bearer token STEVEDORE_METRICS_TOKEN');
  }

  /** Decide one request by its route's policy; throws the answer when it is not allowed. */
  async authorize(req: FastifyRequest, policy: RoutePolicy): Promise<void> {
    if (policy.role === 'internal') return checkInternalToken(req, this.config.STEVEDORE_INTERNAL_TOKEN);
    if (policy.role === 'metrics') return this.metricsToken(req);
    const caller = await this.identify(req, policy);
    setCaller(req, caller);
    this.checkRole(caller, policy);
    if (policy.repositories && this.guard) {
      for (const access of policy.repositories(req)) await this.guard.check(req, access);
    }
    if (policy.resource) await this.authorizeResource(req, policy);
  }

  private async authorizeResource(req: FastifyRequest, policy: RoutePolicy): Promise<void> {
    const rp = policy.resource!;
    const resolver = this.resources.get(rp.kind);
    const params = (req.params ?? {}) as Record<string, string | undefined>;
    const ids = rp.ids ? rp.ids(req) : [params[rp.param ?? 'id'] ?? ''];
    const hidden = new Set<string>();
    for (const id of ids) {
      const r = await resolver.find(id);
      if (!r || !(await this.sees(req, r))) {
        if (rp.perItem) {
          hidden.add(id);
          continue;
        }
        throw resolver.notFound(id);
      }
      if (rp.action === 'content') {
        for (const name of r.repositories) {
          if (!(await this.permits(req, repo(name, ['pull'])))) {
            throw new RegistryError('DENIED', `reading this ${rp.kind} needs pull access to ${name}`, { name, actions: ['pull'] });
          }
        }
      } else if (rp.action === 'change' && !(await this.mayChange(req, r))) {
        throw new RegistryError('DENIED', `you may not change this ${rp.kind}`, { id: id.slice(0, 80) });
      }
    }
    setHiddenIds(req, hidden);
  }
}

@Injectable()
export class PolicyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly policy: AccessPolicy,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const policy = this.reflector.getAllAndOverride<RoutePolicy | undefined>(ACCESS_POLICY, [ctx.getHandler(), ctx.getClass()]);
    // Start-up refuses routes without a policy (RoutePolicyTable); this is the belt to its braces.
    if (!policy) throw new RegistryError('DENIED', 'this route declares no access policy');
    await this.policy.authorize(ctx.switchToHttp().getRequest<FastifyRequest>(), policy);
    return true;
  }
}

export interface RouteEntry {
  method: string;
  path: string;
  /** Undefined: the route declares none (start-up refuses it). */
  policy?: RoutePolicy;
  handler: string;
}

/**
 * Routes served outside Nest's router, with the policy that guards each (by path prefix): the /v2
 * API decides per endpoint by token scope (routes.ts requiredAccess, the AccessGuard), the API
 * documents are public, the queue dashboard is for admins (its own hook asks the AccessGuard).
 */
export const EXTERNAL_ROUTES: ReadonlyArray<{ prefix: string; policy: string }> = [
  { prefix: '/v2', policy: 'registry: repository scopes per endpoint (pull, push, delete; catalog: admin)' },
  { prefix: '/api/docs', policy: 'anyone: the OpenAPI document and its UI' },
  { prefix: '/admin/queues', policy: 'admin: the queue dashboard' },
  { prefix: '/*', policy: "anyone: the web UI's files (its data comes from /api/v1, which decides per route)" },
];

const METHOD_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(RequestMethod)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

function joinPath(...parts: Array<string | string[] | undefined>): string {
  const flat = parts.map((p) => (Array.isArray(p) ? p[0] : p)).filter((p): p is string => !!p && p !== '/');
  return ('/' + flat.join('/')).replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
}

/** Every Nest route of the process with its declared policy; start-up fails on a route without one. */
@Injectable()
export class RoutePolicyTable implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  routes(): RouteEntry[] {
    const out: RouteEntry[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const type = wrapper.metatype as (new (...a: unknown[]) => unknown) | undefined;
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!type || !instance) continue;
      const base = Reflect.getMetadata(PATH_METADATA, type) as string | string[] | undefined;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const fn = (proto as Record<string, unknown>)[name] as object;
        const sub = Reflect.getMetadata(PATH_METADATA, fn) as string | string[] | undefined;
        const method = Reflect.getMetadata(METHOD_METADATA, fn) as number | undefined;
        if (sub === undefined || method === undefined) continue;
        out.push({
          method: METHOD_NAMES[method] ?? String(method),
          path: joinPath(base, sub),
          policy: (Reflect.getMetadata(ACCESS_POLICY, fn) ?? Reflect.getMetadata(ACCESS_POLICY, type)) as RoutePolicy | undefined,
          handler: `${type.name}.${name}`,
        });
      }
    }
    return out;
  }

  onApplicationBootstrap(): void {
    const missing = this.routes().filter((r) => !r.policy);
    if (missing.length) {
      throw new Error(
        `routes without an access policy (declare one with @Access): ${missing.map((r) => `${r.method} ${r.path} (${r.handler})`).join(', ')}`,
      );
    }
  }
}

/**
 * Every route Fastify serves must be a Nest route with a policy or an EXTERNAL_ROUTES prefix;
 * returns the ones that are neither (start-up refuses them). HEAD routes follow their GET.
 */
export function unguardedRoutes(served: Array<{ method: string; url: string }>, nest: RouteEntry[]): string[] {
  const known = new Set(nest.filter((r) => r.policy).map((r) => `${r.method} ${r.path}`));
  const external = (url: string) =>
    EXTERNAL_ROUTES.some((e) => url === e.prefix || url.startsWith(e.prefix + '/') || url.startsWith(e.prefix + '-'));
  return served
    .filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS')
    .filter((r) => !external(r.url) && !known.has(`${r.method} ${joinPath(r.url)}`))
    .map((r) => `${r.method} ${r.url}`);
}

/** Global: the guard runs for every Nest route of every target. */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [ResourceRegistry, AccessPolicy, RoutePolicyTable, { provide: APP_GUARD, useClass: PolicyGuard }],
  exports: [ResourceRegistry, AccessPolicy, RoutePolicyTable],
})
export class AccessPolicyModule {}
