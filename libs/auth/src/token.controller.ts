// GET/POST /auth/token: Docker's token endpoint. Basic credentials (or none, for anonymous pulls of
// public repositories), any number of `scope`s, `service`, `offline_token=true` for a refresh
// token; POST takes the OAuth2 form docker sends (grant_type=password|refresh_token).
import { Controller, Get, Inject, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { RegistryError } from '@stevedore/oci';
import { readLimited } from '@stevedore/platform';
import { Authenticator } from './authenticator';
import { ANONYMOUS, parseScope, type Principal } from './principal';
import { TOKEN_SERVICE_NAME, TokenService, type AccessClaim } from './token-service';
import { UserStore } from './user-store';

function scopesOf(v: unknown): string[] {
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  // Clients send several scopes as repeated parameters or space-separated in one.
  return list.flatMap((s) => String(s).split(' ')).filter(Boolean);
}

@Controller('auth')
export class TokenController {
  constructor(
    @Inject(Authenticator) private readonly auth: Authenticator,
    @Inject(TokenService) private readonly tokens: TokenService,
    @Inject(UserStore) private readonly users: UserStore,
  ) {}

  private async answer(reply: FastifyReply, principal: Principal, scopes: string[], service: string, offline: boolean): Promise<void> {
    if (service !== TOKEN_SERVICE_NAME) throw new RegistryError('INVALID_REQUEST', `unknown service ${service.slice(0, 64)}`, { service: service.slice(0, 64) });
    const access: AccessClaim[] = [];
    for (const s of scopes) {
      const req = parseScope(s);
      if (!req) throw new RegistryError('INVALID_REQUEST', 'invalid scope', { scope: s.slice(0, 200) });
      const actions = await this.auth.granted(principal, req);
      // The token lists exactly what was granted; a scope with nothing granted is left out.
      if (actions.length) access.push({ type: req.type, name: req.name, actions });
    }
    const t = await this.tokens.issue(principal, access, service);
    const body: Record<string, unknown> = { token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt };
    if (offline && principal.name) body.refresh_token = await this.tokens.issueRefresh(principal);
    reply.header('cache-control', 'no-store').header('content-type', 'application/json').send(JSON.stringify(body));
  }

  @Get('token')
  async get(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const q = req.query as Record<string, string | string[] | undefined>;
    const { principal } = await this.auth.authenticate(req);
    await this.answer(reply, principal, scopesOf(q.scope), String(q.service ?? TOKEN_SERVICE_NAME), q.offline_token === 'true');
  }

  @Post('token')
  async post(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    let form: Record<string, string | string[]>;
    if (req.body && typeof (req.body as Readable).pipe === 'function') {
      const text = (await readLimited(req.body as Readable, 64 * 1024)).toString('utf8');
      form = {};
      for (const [k, v] of new URLSearchParams(text)) {
        const prev = form[k];
        form[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
      }
    } else form = (req.body as Record<string, string>) ?? {};
    const grant = String(form.grant_type ?? '');
    let principal: Principal = ANONYMOUS;
    if (grant === 'password') {
      principal = await this.auth.login(String(form.username ?? ''), String(form.password ?? ''), req.ip);
    } else if (grant === 'refresh_token') {
      const name = await this.tokens.verifyRefresh(String(form.refresh_token ?? ''));
      const u = await this.users.get(name);
      if (!u || u.disabled) throw new RegistryError('UNAUTHORIZED', 'invalid or expired refresh token');
      principal = this.users.principalOf(u);
    } else {
      throw new RegistryError('INVALID_REQUEST', 'grant_type must be password or refresh_token');
    }
    await this.answer(reply, principal, scopesOf(form.scope), String(form.service ?? TOKEN_SERVICE_NAME), form.access_type === 'offline' || grant === 'password');
  }
}
