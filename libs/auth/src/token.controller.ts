// GET/POST /auth/token: Docker's token endpoint. Basic credentials (or none, for anonymous pulls of
// public repositories), any number of `scope`s, `service`, `offline_token=true` for a refresh
// token; POST takes the OAuth2 form docker sends (grant_type=password|refresh_token). A registry
// token is never accepted here: it must not buy a wider one.
import { Controller, Get, Inject, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { RegistryError, readCapped } from '@stevedore/oci';
import { Access } from '@stevedore/platform';
import { Authenticator, clientIp } from './authenticator';
import { ANONYMOUS, parseScope, type Principal } from './principal';
import { TOKEN_SERVICE_NAME, TokenService, passwordFingerprint, type AccessClaim } from './token-service';
import { UserStore, type UserRecord } from './user-store';

const MAX_FORM_BYTES = 64 * 1024;
const MAX_SCOPES = 32;

type Form = Record<string, string | string[] | undefined>;

function scopesOf(v: unknown): string[] {
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  // Clients send several scopes as repeated parameters or space-separated in one.
  const scopes = list.flatMap((s) => String(s).split(' ')).filter(Boolean);
  if (scopes.length > MAX_SCOPES) throw new RegistryError('INVALID_REQUEST', `at most ${MAX_SCOPES} scopes per token`);
  return scopes;
}

function one(v: string | string[] | undefined): string {
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

async function readForm(req: FastifyRequest): Promise<Form> {
  const body = req.body as Readable | Record<string, unknown> | undefined;
  if (!body) return {};
  if (typeof (body as Readable).pipe !== 'function') {
    // A JSON body (parsed by the platform): keep the strings only.
    const form: Form = {};
    for (const [k, v] of Object.entries(body))
      if (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) form[k] = v as string | string[];
    return form;
  }
  const text = (await readCapped(body as Readable, MAX_FORM_BYTES)).toString('utf8');
  const form: Form = {};
  for (const [k, v] of new URLSearchParams(text)) {
    const prev = form[k];
    form[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
  }
  return form;
}

@Controller('auth')
export class TokenController {
  constructor(
    @Inject(Authenticator) private readonly auth: Authenticator,
    @Inject(TokenService) private readonly tokens: TokenService,
    @Inject(UserStore) private readonly users: UserStore,
  ) {}

  private async answer(
    reply: FastifyReply,
    principal: Principal,
    user: UserRecord | undefined,
    scopes: string[],
    service: string,
    offline: boolean,
  ): Promise<void> {
    if (service !== TOKEN_SERVICE_NAME) throw new RegistryError('INVALID_REQUEST', 'unknown service', { service: service.slice(0, 64) });
    const access: AccessClaim[] = [];
    for (const s of scopes) {
      const req = parseScope(s);
      if (!req) throw new RegistryError('INVALID_REQUEST', 'invalid scope', { scope: s.slice(0, 200) });
      const actions = await this.auth.granted(principal, req);
      // The token lists exactly what was granted; a scope with nothing granted is left out, and
      // the registry then answers the request itself (UNAUTHORIZED or DENIED).
      const same = access.find((a) => a.type === req.type && a.name === req.name);
      if (same) same.actions = [...new Set([...same.actions, ...actions])];
      else if (actions.length) access.push({ type: req.type, name: req.name, actions });
    }
    const t = await this.tokens.issue(principal, access, service);
    const body: Record<string, unknown> = { token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt };
    if (offline && user) body.refresh_token = await this.tokens.issueRefresh(principal, user.passwordHash);
    reply
      .code(200)
      .header('cache-control', 'no-store')
      .header('pragma', 'no-cache')
      .header('content-type', 'application/json')
      .send(JSON.stringify(body));
  }

  /** The public signing key, for services that verify registry tokens themselves. */
  @Get('jwks.json')
  @Access({ role: 'anyone' })
  async jwks(): Promise<{ keys: Record<string, unknown>[] }> {
    return { keys: [await this.tokens.publicJwk()] };
  }

  @Get('token')
  @Access({ role: 'anyone', description: 'the login itself: Basic credentials or none (anonymous pulls of public repositories)' })
  async get(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const q = req.query as Form;
    const { principal, user } = await this.auth.authenticate(req, { bearer: false });
    await this.answer(reply, principal, user, scopesOf(q.scope), one(q.service) || TOKEN_SERVICE_NAME, one(q.offline_token) === 'true');
  }

  @Post('token')
  @Access({ role: 'anyone', description: 'the OAuth2 password and refresh-token grants' })
  async post(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const form = await readForm(req);
    const grant = one(form.grant_type);
    let principal: Principal = ANONYMOUS;
    let user: UserRecord | undefined;
    if (grant === 'password') {
      ({ principal, user } = await this.auth.login(one(form.username), one(form.password), clientIp(req)));
    } else if (grant === 'refresh_token') {
      const r = await this.tokens.verifyRefresh(one(form.refresh_token));
      const u = await this.users.get(r.sub);
      // A disabled account or a changed password revokes its refresh tokens.
      if (!u || u.disabled || passwordFingerprint(u.passwordHash) !== r.pwd)
        throw new RegistryError('UNAUTHORIZED', 'invalid or expired refresh token');
      principal = this.users.principalOf(u);
      user = u;
    } else {
      throw new RegistryError('INVALID_REQUEST', 'grant_type must be password or refresh_token');
    }
    // `docker login` sends access_type=offline with its password grant and keeps the refresh token
    // as its identity token; a refresh grant answers an access token only.
    const offline = grant === 'password' && one(form.access_type) === 'offline';
    await this.answer(reply, principal, user, scopesOf(form.scope), one(form.service) || TOKEN_SERVICE_NAME, offline);
  }
}
