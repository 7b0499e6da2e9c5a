// /api/v1/session: the web UI's sign-in. POST trades a user name and password for a session (an
// HttpOnly, SameSite=Strict cookie, Secure over https, naming a revocable record in Redis) and
// answers its anti-CSRF token; GET says who the session is and until when; DELETE revokes it.
// Every other /api/v1 route then takes the cookie through the one access policy (Authenticator).
// The three routes are open (role anyone): signing in needs no session, and signing out must also
// clear the cookie of a session that already ended.
import { Body, Controller, Delete, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { stringifySetCookie } from 'cookie';
import { SESSION_COOKIE, SignInRequestSchema, type AnswerOf, type Session } from '@stevedore/api-contract';
import { RegistryError } from '@stevedore/oci';
import { Access, CONFIG, type StevedoreConfig } from '@stevedore/platform';
import { Authenticator, clientIp, sessionCookieOf } from './authenticator';
import { SessionStore, type SessionRecord } from './session-store';

function viewOf(record: SessionRecord, admin: boolean): Session {
  return { user: record.user, admin, createdAt: record.createdAt, expiresAt: record.expiresAt, csrfToken: record.csrfToken };
}

@Controller('api/v1/session')
export class SessionController {
  constructor(
    @Inject(Authenticator) private readonly auth: Authenticator,
    @Inject(SessionStore) private readonly sessions: SessionStore,
    @Inject(CONFIG) private readonly config: StevedoreConfig,
  ) {}

  /** Secure when the browser reached us over https: the connection, a trusted proxy's X-Forwarded-Proto, or an https public URL. */
  private secure(req: FastifyRequest): boolean {
    return req.protocol === 'https' || this.config.publicUrl.startsWith('https://');
  }

  private setCookie(req: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number): void {
    reply.header(
      'set-cookie',
      stringifySetCookie(SESSION_COOKIE, value, {
        httpOnly: true,
        secure: this.secure(req),
        sameSite: 'strict',
        path: '/',
        maxAge: maxAgeSeconds,
      }),
    );
  }

  @Post()
  @HttpCode(201)
  @Access({ role: 'anyone', description: 'a user name and password (rate limited as every login); robots do not sign in' })
  async signIn(
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Body() body: unknown,
  ): Promise<AnswerOf<'createSession'>> {
    const parsed = SignInRequestSchema.safeParse(body ?? {});
    if (!parsed.success)
      throw new RegistryError('INVALID_REQUEST', 'invalid request body', {
        issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      });
    const { user } = await this.auth.login(parsed.data.username, parsed.data.password, clientIp(req));
    if (user.robotScopes) throw new RegistryError('DENIED', 'robot accounts do not sign in to the web UI: use their secret as a password');
    const { id, record } = await this.sessions.create(user.name, user.passwordHash);
    this.setCookie(req, reply, id, Math.floor((Date.parse(record.expiresAt) - Date.now()) / 1000));
    reply.header('cache-control', 'no-store');
    return viewOf(record, user.admin);
  }

  @Get()
  @Access({ role: 'anyone', description: 'the session the cookie names (401 without one)' })
  async current(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<AnswerOf<'getSession'>> {
    const { session, user } = await this.auth.authenticate(req);
    if (!session || !user) throw new RegistryError('UNAUTHORIZED', 'not signed in: POST /api/v1/session to sign in', { session: 'none' });
    reply.header('cache-control', 'no-store');
    return viewOf(session.record, user.admin);
  }

  @Delete()
  @HttpCode(204)
  @Access({ role: 'anyone', description: 'revokes the live session the cookie names (with its anti-CSRF token) and clears the cookie' })
  async signOut(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    const id = sessionCookieOf(req);
    if (id) {
      // A live session is revoked only by its own page (the CSRF check); one already ended needs nothing.
      const live = await this.auth.authenticate(req).catch((e: unknown) => {
        if (RegistryError.is(e, 'UNAUTHORIZED')) return undefined;
        throw e;
      });
      if (live?.session) await this.sessions.revoke(live.session.id);
    }
    this.setCookie(req, reply, '', 0);
  }
}
