// /api/v1/users, /api/v1/robots and repository visibility: admins manage everyone; a user may
// read and change their own record (password), create robots within their own rights (named
// `<user>.<name>`), list and remove them, and publish repositories in their namespace.
// Answers never carry password hashes; a robot's secret is shown once, when it is created.
// Account routes take the password itself (role `user`): a registry token (scoped, perhaps handed
// to CI) must not be able to change a password, and robots manage nothing.
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Put, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import {
  CreateRobotRequestSchema,
  CreateUserRequestSchema,
  UpdateUserRequestSchema,
  VisibilityRequestSchema,
  type AnswerOf,
} from '@stevedore/api-contract';
import { RegistryError, repositoryNameOk } from '@stevedore/oci';
import { Access, callerOf } from '@stevedore/platform';
import { Authenticator } from './authenticator';
import type { Principal, RobotScope } from './principal';
import { UserStore, viewOf } from './user-store';

function robotPatternOk(p: string): boolean {
  return repositoryNameOk(p.endsWith('/*') ? p.slice(0, -2) : p);
}

// The contract gives the shapes; the repository-name grammar (libs/oci) is checked on top, here.
const CreateRobot = CreateRobotRequestSchema.superRefine((b, ctx) =>
  b.scopes.forEach((s, i) => {
    if (!robotPatternOk(s.repository))
      ctx.addIssue({ code: 'custom', path: ['scopes', i, 'repository'], message: 'a repository name, or a namespace as `name/*`' });
  }),
);
const Visibility = VisibilityRequestSchema.refine((b) => repositoryNameOk(b.repository), {
  path: ['repository'],
  message: 'a repository name',
});

function parse<T>(schema: z.ZodType<T, unknown>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success)
    throw new RegistryError('INVALID_REQUEST', 'invalid request body', {
      issues: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    });
  return r.data;
}

@Controller('api/v1')
export class UsersController {
  constructor(
    @Inject(Authenticator) private readonly auth: Authenticator,
    @Inject(UserStore) private readonly users: UserStore,
  ) {}

  @Get('users')
  @Access({ role: 'admin' })
  async list(): Promise<AnswerOf<'listUsers'>> {
    return (await this.users.list()).map(viewOf);
  }

  @Post('users')
  @Access({ role: 'admin' })
  async create(@Body() body: unknown): Promise<AnswerOf<'createUser'>> {
    const b = parse(CreateUserRequestSchema, body);
    return viewOf(await this.users.create(b.name, b.password, { admin: b.admin }));
  }

  @Get('users/:name')
  @Access({
    role: 'user',
    resource: { kind: 'account', param: 'name', action: 'read' },
    description: 'your own account (or a robot of yours); admins: any',
  })
  async get(@Param('name') name: string): Promise<AnswerOf<'getUser'>> {
    const u = await this.users.get(name);
    if (!u) throw accountNotFound(name);
    return viewOf(u);
  }

  @Patch('users/:name')
  @Access({
    role: 'user',
    resource: { kind: 'account', param: 'name', action: 'change' },
    description: 'password of your own account; admins: also disabled and admin',
  })
  async update(@Req() req: FastifyRequest, @Param('name') name: string, @Body() body: unknown): Promise<AnswerOf<'updateUser'>> {
    const b = parse(UpdateUserRequestSchema, body);
    // Which fields, not whose account (the policy decided that): only admins grant or revoke.
    if (!callerOf(req).admin && (b.disabled !== undefined || b.admin !== undefined)) {
      throw new RegistryError('DENIED', 'only an admin may disable an account or change its admin flag');
    }
    return viewOf(await this.users.update(name, b));
  }

  /**
   * Remove an account with what it holds in auth: its sessions and refresh tokens end (as when it
   * is disabled) and its robots are removed (a new account of the same name must not inherit them).
   * Never the caller's own account, nor the last enabled admin: 409, so the platform keeps one.
   */
  @Delete('users/:name')
  @HttpCode(204)
  @Access({ role: 'admin', description: 'not yourself, nor the last enabled admin (409)' })
  async remove(@Req() req: FastifyRequest, @Param('name') name: string): Promise<void> {
    const u = await this.users.get(name);
    if (!u) throw accountNotFound(name);
    const all = await this.users.list();
    if (u.admin && !u.disabled && !u.robotScopes && !all.some((x) => x.name !== u.name && x.admin && !x.disabled && !x.robotScopes))
      throw new RegistryError('CONFLICT', `${u.name} is the last admin: make another user an admin first`, { name: u.name });
    if (callerOf(req).name === u.name)
      throw new RegistryError('CONFLICT', `you cannot remove your own account (${u.name}); another admin can`, { name: u.name });
    for (const robot of all.filter((x) => x.robotScopes && x.owner === u.name)) await this.users.remove(robot.name);
    await this.users.remove(u.name);
  }

  @Get('robots')
  @Access({ role: 'user', lists: 'robots you own; admins: all' })
  async robots(@Req() req: FastifyRequest): Promise<AnswerOf<'listRobots'>> {
    const c = callerOf(req);
    const all = (await this.users.list()).filter((u) => u.robotScopes);
    return { robots: all.filter((u) => c.admin || u.owner === c.actsFor).map(viewOf) };
  }

  @Post('robots')
  @Access({ role: 'user', description: 'scopes within your own rights (admins: any); non-admin robot names start with `<user>.`' })
  async robot(@Req() req: FastifyRequest, @Body() body: unknown): Promise<AnswerOf<'createRobot'>> {
    const b = parse(CreateRobot, body);
    const c = callerOf(req);
    const owner: Principal = { name: c.name, admin: c.admin };
    if (!c.admin) {
      if (!b.name.startsWith(`${c.name}.`))
        throw new RegistryError('INVALID_REQUEST', `robots you create are named ${c.name}.<name>`, { name: b.name.slice(0, 64) });
      for (const scope of b.scopes) await this.withinRights(owner, scope);
    }
    // The secret is shown once, here; only its hash is kept.
    const secret = randomBytes(24).toString('base64url');
    const u = await this.users.create(b.name, secret, { robotScopes: b.scopes, ...(c.name ? { owner: c.name } : {}) });
    return { ...viewOf(u), secret };
  }

  /** A robot may get no more than its creator has: its own namespace, or what it may do on one repository now. */
  private async withinRights(owner: Principal, scope: RobotScope): Promise<void> {
    const ns = `${owner.name}/`;
    const actions = scope.actions.includes('*') ? ['pull', 'push', 'delete'] : scope.actions;
    const ok = scope.repository.endsWith('/*')
      ? scope.repository.startsWith(ns)
      : (await this.auth.granted(owner, { type: 'repository', name: scope.repository, actions })).length === actions.length;
    if (!ok)
      throw new RegistryError(
        'DENIED',
        `a robot's scopes must stay within your own rights: ${scope.repository} ${scope.actions.join(',')}`,
        { scope },
      );
  }

  @Delete('robots/:name')
  @HttpCode(204)
  @Access({ role: 'user', resource: { kind: 'robot', param: 'name', action: 'change' }, description: 'a robot you own; admins: any' })
  async removeRobot(@Param('name') name: string): Promise<void> {
    await this.users.remove(name);
  }

  @Put('repositories/visibility')
  @Access({
    role: 'user',
    repositories: (req) => [{ type: 'repository', name: parse(Visibility, req.body).repository, actions: ['push'] }],
    description: 'push on the repository',
  })
  async visibility(@Body() body: unknown): Promise<AnswerOf<'setVisibility'>> {
    const b = parse(Visibility, body);
    await this.users.setPublic(b.repository, b.public);
    return { repository: b.repository, public: b.public };
  }
}

export function accountNotFound(name: string): RegistryError {
  return new RegistryError('NOT_FOUND', `no user ${String(name).slice(0, 64)}`, { name: String(name).slice(0, 64) });
}
