// The access policy's decisions, with an AccessGuard of plain rules (who may pull or push what), and
// the start-up refusal of a route that declares no policy, on a real Nest application.
import 'reflect-metadata';
import { Controller, Get, Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import fc from 'fast-check';
import { RegistryError } from '@stevedore/oci';
import {
  Access,
  CONFIG,
  hiddenIds,
  type AccessRequest,
  type Caller,
  type OwnedResource,
  type RoutePolicy,
  type StevedoreConfig,
} from '@stevedore/platform';
import type { AccessGuard } from './access-guard';
import { AccessPolicy, AccessPolicyModule, ResourceRegistry, RoutePolicyTable, unguardedRoutes } from './policy-guard';

type Rights = Record<string, string[]>;

/** Callers by the `x-who` header; rights per caller name as `repo -> actions`. */
function guardOf(callers: Record<string, Caller>, rights: Record<string, Rights>): AccessGuard {
  const who = (req: FastifyRequest) => callers[String(req.headers['x-who'] ?? '')] ?? { kind: 'anonymous' as const, admin: false };
  const permits = async (req: FastifyRequest, a: AccessRequest) => {
    const c = who(req);
    if (c.admin) return true;
    // A token's rights are its access list, not its subject's: keyed apart.
    const mine = rights[c.kind === 'token' ? `token:${c.name}` : (c.name ?? '')] ?? {};
    return a.actions.every((x) => (mine[a.name] ?? []).includes(x));
  };
  return {
    identify: async (req) => who(req),
    permits,
    check: async (req, a) => {
      if (await permits(req, a)) return;
      throw who(req).kind === 'anonymous'
        ? new RegistryError('UNAUTHORIZED', 'authentication required')
        : new RegistryError('DENIED', 'denied');
    },
    challenge: () => ({}),
  };
}

const config = (over: Partial<StevedoreConfig> = {}) =>
  ({ STEVEDORE_AUTH: true, STEVEDORE_INTERNAL_TOKEN: 'internal-secret', ...over }) as StevedoreConfig;
const req = (who?: string, extra: Partial<FastifyRequest> = {}) =>
  ({ headers: who ? { 'x-who': who } : {}, params: {}, ...extra }) as unknown as FastifyRequest; // a request with only the fields the guard reads; Fastify builds the real ones.

const callers: Record<string, Caller> = {
  alice: { kind: 'user', name: 'alice', admin: false, actsFor: 'alice' },
  bob: { kind: 'user', name: 'bob', admin: false, actsFor: 'bob' },
  admin: { kind: 'user', name: 'admin', admin: true, actsFor: 'admin' },
  ci: { kind: 'robot', name: 'alice.ci', admin: false, actsFor: 'alice' },
  narrow: { kind: 'robot', name: 'alice.narrow', admin: false, actsFor: 'alice' },
  tok: { kind: 'token', name: 'alice', admin: false, actsFor: 'alice' },
};
const rights: Record<string, Rights> = {
  alice: { 'alice/app': ['pull', 'push', 'delete'], 'alice/out': ['pull', 'push', 'delete'] },
  'alice.ci': { 'alice/app': ['pull', 'push'], 'alice/out': ['pull', 'push'] },
  'alice.narrow': { 'alice/app': ['pull'] },
};

function setup(resources: Record<string, OwnedResource>, over: Partial<StevedoreConfig> = {}, withGuard = true) {
  const registry = new ResourceRegistry();
  const notFound = (id: string) => new RegistryError('NOT_FOUND', `no such thing: ${id}`, { id });
  registry.register('thing', { find: async (id) => resources[id], notFound });
  return new AccessPolicy(registry, config(over), withGuard ? guardOf(callers, rights) : undefined);
}

const on = (action: 'read' | 'content' | 'change'): RoutePolicy => ({ role: 'authenticated', resource: { kind: 'thing', action } });
async function outcome(p: AccessPolicy, who: string | undefined, policy: RoutePolicy, id = 't1'): Promise<string> {
  try {
    await p.authorize(req(who, { params: { id } } as Partial<FastifyRequest>), policy);
    return 'ok';
  } catch (e) {
    if (!RegistryError.is(e)) throw e;
    return `${e.code}${e.code === 'NOT_FOUND' ? ':' + e.message : ''}`;
  }
}

describe('AccessPolicy', () => {
  const things = { t1: { owner: 'alice', repositories: ['alice/app'], writes: ['alice/out'] }, legacy: { repositories: ['alice/app'] } };

  it('the owner and admins act on a resource; others get the missing answer', async () => {
    const p = setup(things);
    for (const a of ['read', 'content', 'change'] as const) {
      expect(await outcome(p, 'alice', on(a))).toBe('ok');
      expect(await outcome(p, 'admin', on(a))).toBe('ok');
      expect(await outcome(p, 'bob', on(a))).toBe('NOT_FOUND:no such thing: t1');
      expect(await outcome(p, 'bob', on(a), 'nope')).toBe('NOT_FOUND:no such thing: nope');
      expect(await outcome(p, undefined, on(a))).toBe('UNAUTHORIZED');
    }
  });

  it('robots and tokens act for their owner within their rights: seeing needs pull, changing needs push on what it writes', async () => {
    const p = setup(things);
    expect(await outcome(p, 'ci', on('read'))).toBe('ok');
    expect(await outcome(p, 'ci', on('change'))).toBe('ok');
    expect(await outcome(p, 'narrow', on('read'))).toBe('ok');
    expect(await outcome(p, 'narrow', on('content'))).toBe('ok');
    expect(await outcome(p, 'narrow', on('change'))).toBe('DENIED');
    // A token of alice whose access list covers nothing sees nothing.
    expect(await outcome(p, 'tok', on('read'))).toBe('NOT_FOUND:no such thing: t1');
  });

  it('content needs pull on its repositories now; a resource made with auth off is the admins’', async () => {
    const p = setup({ t1: { owner: 'bob', repositories: ['alice/app'] } });
    expect(await outcome(p, 'bob', on('read'))).toBe('ok');
    expect(await outcome(p, 'bob', on('content'))).toBe('DENIED');
    expect(await outcome(p, 'bob', on('change'))).toBe('ok');
    const q = setup(things);
    expect(await outcome(q, 'alice', on('read'), 'legacy')).toBe('NOT_FOUND:no such thing: legacy');
    expect(await outcome(q, 'admin', on('read'), 'legacy')).toBe('ok');
  });

  it('roles: log in first; accounts take a password; admin routes are for admins', async () => {
    const p = setup(things);
    const role = async (who: string | undefined, r: RoutePolicy['role']) => outcome(p, who, { role: r });
    expect(await role(undefined, 'anyone')).toBe('ok');
    expect(await role(undefined, 'authenticated')).toBe('UNAUTHORIZED');
    expect(await role('tok', 'user')).toBe('UNAUTHORIZED');
    expect(await role('tok', 'admin')).toBe('UNAUTHORIZED');
    expect(await role('tok', 'authenticated')).toBe('ok');
    expect(await role('ci', 'user')).toBe('DENIED');
    expect(await role('alice', 'user')).toBe('ok');
    expect(await role('alice', 'admin')).toBe('DENIED');
    expect(await role('admin', 'admin')).toBe('ok');
  });

  it('internal routes need the internal token; metrics the metrics token when one is set', async () => {
    const p = setup(things, { STEVEDORE_METRICS_TOKEN: 'metrics-secret-0123' });
    await expect(p.authorize(req(), { role: 'internal' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(
      p.authorize(req(undefined, { headers: { 'x-stevedore-internal-token': 'internal-secret' } }), { role: 'internal' }),
    ).resolves.toBeUndefined();
    await expect(p.authorize(req('admin'), { role: 'metrics' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(
      p.authorize(req(undefined, { headers: { authorization: 'Bearer metrics-secret-0123' } }), { role: 'metrics' }),
    ).resolves.toBeUndefined();
  });

  it('without an access guard: everything when auth is off, nothing but open routes when it is on', async () => {
    const off = setup(things, { STEVEDORE_AUTH: false }, false);
    expect(await outcome(off, undefined, on('change'))).toBe('ok');
    const on_ = setup(things, {}, false);
    expect(await outcome(on_, undefined, on('read'))).toBe('UNAUTHORIZED');
    expect(await outcome(on_, undefined, { role: 'anyone' })).toBe('ok');
  });

  it('per-item lists: hidden items are reported, not refused', async () => {
    const p = setup(things);
    const r = req('bob');
    await p.authorize(r, {
      role: 'authenticated',
      resource: { kind: 'thing', action: 'content', ids: () => ['t1', 'nope'], perItem: true },
    });
    expect([...hiddenIds(r)].sort()).toEqual(['nope', 't1']);
  });

  it('property: a non-admin never acts on a resource of another owner, and the answer is the missing one', async () => {
    const names = ['alice', 'bob', 'admin', 'ci', 'narrow', 'tok'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...names),
        fc.constantFrom('alice', 'bob', 'carol', undefined),
        fc.constantFrom('read', 'content', 'change') as fc.Arbitrary<'read' | 'content' | 'change'>,
        async (who, owner, action) => {
          const p = setup({ t1: { owner, repositories: ['alice/app'] } });
          const got = await outcome(p, who, on(action));
          const c = callers[who];
          if (c.admin) expect(got).toBe('ok');
          else if (c.actsFor !== owner) expect(got).toBe('NOT_FOUND:no such thing: t1');
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('route policy table', () => {
  @Controller('t')
  class Guarded {
    @Get('a')
    @Access({ role: 'anyone' })
    a(): string {
      return 'a';
    }
  }

  @Controller('u')
  class Unguarded {
    @Get('b')
    b(): string {
      return 'b';
    }
  }

  @Access({ role: 'admin' })
  @Controller('v')
  class ClassLevel {
    @Get('c')
    c(): string {
      return 'c';
    }
  }

  @Global()
  @Module({ providers: [{ provide: CONFIG, useValue: config() }], exports: [CONFIG] })
  class ConfigModule {}

  async function app(controllers: Array<new () => unknown>): Promise<NestFastifyApplication> {
    const m = await Test.createTestingModule({ imports: [ConfigModule, AccessPolicyModule], controllers }).compile();
    return m.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  }

  it('start-up fails on a route without a policy, naming it', async () => {
    const a = await app([Guarded, Unguarded]);
    await expect(a.init()).rejects.toThrow(/routes without an access policy.*GET \/u\/b \(Unguarded\.b\)/);
    await a.close().catch(() => undefined);
  });

  it('lists every route with its policy (a class-level one applies to its routes)', async () => {
    const a = await app([Guarded, ClassLevel]);
    await a.init();
    const routes = a
      .get(RoutePolicyTable)
      .routes()
      .map((r) => ({ method: r.method, path: r.path, role: r.policy?.role }));
    expect(routes).toEqual([
      { method: 'GET', path: '/t/a', role: 'anyone' },
      { method: 'GET', path: '/v/c', role: 'admin' },
    ]);
    await a.close();
  });

  it('every route Fastify serves is a Nest route with a policy or a declared outside route', () => {
    const nest = [{ method: 'GET', path: '/t/a', policy: { role: 'anyone' as const }, handler: 'x' }];
    expect(
      unguardedRoutes(
        [
          { method: 'GET', url: '/t/a' },
          { method: 'HEAD', url: '/t/a' },
          { method: 'GET', url: '/v2/*' },
          { method: 'GET', url: '/api/docs-json' },
          { method: 'GET', url: '/admin/queues/api/queues' },
          { method: 'POST', url: '/sneaky' },
        ],
        nest,
      ),
    ).toEqual(['POST /sneaky']);
  });
});
