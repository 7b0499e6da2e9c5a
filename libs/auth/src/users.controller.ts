// /api/v1/users, /api/v1/robots and repository visibility: admins manage everyone; a user may
// read and change their own record (password) and publish repositories in their namespace.
// Answers never carry password hashes; a robot's secret is shown once, when it is created.
import { Body, Controller, Get, Inject, Param, Patch, Post, Put, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { RegistryError, repositoryNameOk } from '@stevedore/oci';
import { Authenticator } from './authenticator';
import type { Principal } from './principal';
import { UserStore, viewOf, type UserView } from './user-store';

function robotPatternOk(p: string): boolean {
  return repositoryNameOk(p.endsWith('/*') ? p.slice(0, -2) : p);
}

const CreateUser = z.object({ name: z.string(), password: z.string(), admin: z.boolean().optional() });
const UpdateUser = z.object({ password: z.string().optional(), disabled: z.boolean().optional(), admin: z.boolean().optional() }).strict();
const CreateRobot = z.object({
  name: z.string(),
  scopes: z.array(z.object({ repository: z.string().refine(robotPatternOk, 'a repository name, or a namespace as `name/*`'), actions: z.array(z.enum(['pull', 'push', 'delete', '*'])).min(1) })).min(1),
});
const Visibility = z.object({ repository: z.string().refine(repositoryNameOk, 'a repository name'), public: z.boolean() });

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw new RegistryError('INVALID_REQUEST', 'invalid request body', { issues: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
  return r.data;
}

@Controller('api/v1')
export class UsersController {
  constructor(
    @Inject(Authenticator) private readonly auth: Authenticator,
    @Inject(UserStore) private readonly users: UserStore,
  ) {}

  // Account changes take the password itself: a registry token (scoped, perhaps handed to CI) must
  // not be able to change a password, and robots manage nothing.
  private async who(req: FastifyRequest): Promise<Principal> {
    const { principal } = await this.auth.authenticate(req, { bearer: false });
    if (!principal.name) throw new RegistryError('UNAUTHORIZED', 'authentication required');
    if (principal.robotScopes) throw new RegistryError('DENIED', 'robot accounts may only pull and push');
    return principal;
  }

  private async admin(req: FastifyRequest): Promise<Principal> {
    const p = await this.who(req);
    if (!p.admin) throw new RegistryError('DENIED', 'only an admin may do this');
    return p;
  }

  @Get('users')
  async list(@Req() req: FastifyRequest): Promise<UserView[]> {
    await this.admin(req);
    return (await this.users.list()).map(viewOf);
  }

  @Post('users')
  async create(@Req() req: FastifyRequest, @Body() body: unknown): Promise<UserView> {
    await this.admin(req);
    const b = parse(CreateUser, body);
    return viewOf(await this.users.create(b.name, b.password, { admin: b.admin }));
  }

  @Get('users/:name')
  async get(@Req() req: FastifyRequest, @Param('name') name: string): Promise<UserView> {
    const p = await this.who(req);
    if (!p.admin && p.name !== name) throw new RegistryError('DENIED', 'you may only read your own account');
    const u = await this.users.get(name);
    if (!u) throw new RegistryError('NOT_FOUND', `no user ${name}`, { name });
    return viewOf(u);
  }

  @Patch('users/:name')
  async update(@Req() req: FastifyRequest, @Param('name') name: string, @Body() body: unknown): Promise<UserView> {
    const p = await this.who(req);
    const b = parse(UpdateUser, body);
    if (!p.admin && (p.name !== name || b.disabled !== undefined || b.admin !== undefined)) {
      throw new RegistryError('DENIED', 'you may only change your own password');
    }
    return viewOf(await this.users.update(name, b));
  }

  @Post('robots')
  async robot(@Req() req: FastifyRequest, @Body() body: unknown): Promise<UserView & { secret: string }> {
    await this.admin(req);
    const b = parse(CreateRobot, body);
    // The secret is shown once, here; only its hash is kept.
    const secret = randomBytes(24).toString('base64url');
    const u = await this.users.create(b.name, secret, { robotScopes: b.scopes });
    return { ...viewOf(u), secret };
  }

  @Put('repositories/visibility')
  async visibility(@Req() req: FastifyRequest, @Body() body: unknown): Promise<{ repository: string; public: boolean }> {
    const p = await this.who(req);
    const b = parse(Visibility, body);
    if (!p.admin && !b.repository.startsWith(`${p.name}/`)) throw new RegistryError('DENIED', 'you may only publish repositories in your namespace');
    await this.users.setPublic(b.repository, b.public);
    return { repository: b.repository, public: b.public };
  }
}
