// Turns a request's credentials into a principal and decides access: Bearer tokens (verified on
// every call, cached until expiry), Basic credentials (rate limited), a browser session cookie
// (/api/v1 only), or anonymous. Implements the registry's AccessGuard, so the /v2 API and the
// management API ask the same questions.
import type { FastifyRequest } from 'fastify';
import { parseCookie } from 'cookie';
import { createHash, timingSafeEqual } from 'node:crypto';
import { CSRF_HEADER, SESSION_COOKIE } from '@stevedore/api-contract';
import { RegistryError } from '@stevedore/oci';
import type { AccessGuard, AccessRequest } from '@stevedore/registry';
import type { Caller } from '@stevedore/platform';
import { ANONYMOUS, grantedActions, type Principal, type ResourceRequest } from './principal';
import { TOKEN_SERVICE_NAME, passwordFingerprint, tokenCovers, type RegistryClaims, type TokenService } from './token-service';
import type { UserRecord, UserStore } from './user-store';
import type { LoginLimiter } from './login-limiter';
import type { SessionRecord, SessionStore } from './session-store';

export interface Authenticated {
  principal: Principal;
  /** Present when the request carried a registry token (its rights are the token's, not the user's). */
  claims?: RegistryClaims;
  /** The user record, when the request carried a password (Basic credentials). */
  user?: UserRecord;
  /** The browser session the request was signed in by, and the cookie's id. */
  session?: { id: string; record: SessionRecord };
}

export type Credentials =
  | { kind: 'none' }
  | { kind: 'basic'; user: string; password: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'session'; id: string };

const BASIC_CACHE_MS = 30_000;
const CACHE_MAX = 10_000;

export function clientIp(req: FastifyRequest): string {
  return req.ip ?? req.socket?.remoteAddress ?? 'unknown';
}

/** The session cookie's value, if the request carries one. */
export function sessionCookieOf(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie;
  return header ? parseCookie(header)[SESSION_COOKIE] || undefined : undefined;
}

// Browsers send cookies on their own; only the management API (which the web UI calls) takes them.
// /v2 and /auth/token stay credential-by-header, as registry clients use them.
const SESSION_PATHS = /^\/api\/v1(\/|\?|$)/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export const SESSION_ENDED = 'your session has expired or was ended (signed out, password changed, account disabled); sign in again';

/**
 * The request's credentials: the Authorization header, parsed (malformed or unknown schemes are
 * UNAUTHORIZED); without one, on /api/v1, the session cookie. A header wins over the cookie, so a
 * script calling with Basic is never mistaken for the page.
 */
export function credentialsOf(req: FastifyRequest): Credentials {
  const h = req.headers.authorization;
  if (!h) {
    const id = SESSION_PATHS.test(req.url) ? sessionCookieOf(req) : undefined;
    return id ? { kind: 'session', id } : { kind: 'none' };
  }
  const m = /^(\S+)\s+(.+)$/.exec(h.trim());
  if (!m) throw new RegistryError('UNAUTHORIZED', 'malformed Authorization header');
  const scheme = m[1].toLowerCase();
  if (scheme === 'bearer') return { kind: 'bearer', token: m[2].trim() };
  if (scheme === 'basic') {
    const decoded = Buffer.from(m[2].trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new RegistryError('UNAUTHORIZED', 'malformed Basic credentials');
    return { kind: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  throw new RegistryError('UNAUTHORIZED', `unsupported authorization scheme ${scheme.slice(0, 20).replace(/[^\w-]/g, '')}`);
}

export class Authenticator implements AccessGuard {
  private readonly verified = new Map<string, RegistryClaims>();
  // Basic credentials on every /v2 call would cost a bcrypt compare each; a verified pair is
  // remembered briefly under a hash of it (never the password itself), and only while the stored
  // record still has the same password hash and is enabled (so a change applies at once, everywhere).
  private readonly basicOk = new Map<string, { passwordHash: string; until: number }>();
  // One verification per request, however many checks its policy makes.
  private readonly perRequest = new WeakMap<FastifyRequest, Promise<Authenticated>>();

  constructor(
    private readonly users: UserStore,
    private readonly tokens: TokenService,
    private readonly limiter: LoginLimiter,
    private readonly realm: string,
    private readonly sessions: SessionStore,
  ) {}

  /** Check a user name and password (rate limited per user and per address). */
  async login(user: string, password: string, ip: string): Promise<{ principal: Principal; user: UserRecord }> {
    // The limit applies before the cache too: a locked account or address is refused even with the
    // right password, so a lock-out never tells a guesser which password was right.
    await this.limiter.check(user, ip);
    const key = createHash('sha256').update(user).update('\0').update(password).digest('hex');
    const hit = this.basicOk.get(key);
    if (hit && hit.until > Date.now()) {
      const u = await this.users.get(user);
      if (u && !u.disabled && u.passwordHash === hit.passwordHash && (await this.ownerEnabled(u)))
        return { principal: this.users.principalOf(u), user: u };
      this.basicOk.delete(key);
    }
    const found = await this.users.verify(user, password);
    // A robot acts for its owner: a disabled or removed owner disables its robots too.
    const u = found && (await this.ownerEnabled(found)) ? found : undefined;
    if (!u) {
      await this.limiter.failed(user, ip);
      throw new RegistryError('UNAUTHORIZED', 'incorrect username or password');
    }
    await this.limiter.succeeded(user);
    if (this.basicOk.size > CACHE_MAX) this.basicOk.clear();
    this.basicOk.set(key, { passwordHash: u.passwordHash, until: Date.now() + BASIC_CACHE_MS });
    return { principal: this.users.principalOf(u), user: u };
  }

  private async ownerEnabled(u: UserRecord): Promise<boolean> {
    if (!u.owner) return true;
    const owner = await this.users.get(u.owner);
    return !!owner && !owner.disabled;
  }

  async verifyToken(token: string): Promise<RegistryClaims> {
    const hit = this.verified.get(token);
    if (hit && (hit.exp ?? 0) * 1000 > Date.now()) return hit;
    const claims = await this.tokens.verify(token, TOKEN_SERVICE_NAME);
    if (this.verified.size > CACHE_MAX) this.verified.clear();
    this.verified.set(token, claims);
    return claims;
  }

  /** Who the request is. Bearer tokens are refused where `bearer: false` (password-only endpoints). */
  async authenticate(req: FastifyRequest, options: { bearer?: boolean } = {}): Promise<Authenticated> {
    if (options.bearer === false && credentialsOf(req).kind === 'bearer') {
      throw new RegistryError('UNAUTHORIZED', 'this endpoint takes a user name and password (Basic), not a token');
    }
    let done = this.perRequest.get(req);
    if (!done) {
      done = this.authenticateOnce(req);
      this.perRequest.set(req, done);
    }
    return done;
  }

  private async authenticateOnce(req: FastifyRequest): Promise<Authenticated> {
    const c = credentialsOf(req);
    if (c.kind === 'none') return { principal: ANONYMOUS };
    if (c.kind === 'bearer') {
      const claims = await this.verifyToken(c.token);
      return { principal: { name: claims.sub || undefined, admin: false }, claims };
    }
    if (c.kind === 'session') return this.authenticateSession(req, c.id);
    const { principal, user } = await this.login(c.user, c.password, clientIp(req));
    return { principal, user };
  }

  /**
   * A session cookie: a live record, made with the account's current password, of an enabled user.
   * Unsafe methods must echo the session's anti-CSRF token in X-CSRF-Token: a browser attaches the
   * cookie to any request to this site, but only our own page (same origin) has read the token.
   */
  private async authenticateSession(req: FastifyRequest, id: string): Promise<Authenticated> {
    const record = await this.sessions.find(id);
    const u = record ? await this.users.get(record.user) : undefined;
    if (!record || !u || u.disabled || u.robotScopes || passwordFingerprint(u.passwordHash) !== record.passwordFingerprint) {
      throw new RegistryError('UNAUTHORIZED', SESSION_ENDED, { session: 'ended' });
    }
    if (!SAFE_METHODS.has(req.method.toUpperCase())) {
      const sent = req.headers[CSRF_HEADER];
      const given = Buffer.from(typeof sent === 'string' ? sent : '');
      const expected = Buffer.from(record.csrfToken);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new RegistryError('DENIED', `a request signed in by the session cookie must carry its anti-CSRF token in ${CSRF_HEADER}`, {
          session: 'csrf',
        });
      }
    }
    return { principal: this.users.principalOf(u), user: u, session: { id, record } };
  }

  async granted(principal: Principal, request: ResourceRequest): Promise<string[]> {
    const isPublic = request.type === 'repository' ? await this.users.isPublic(request.name) : false;
    const own = grantedActions(principal, request, isPublic);
    if (!principal.owner || !own.length) return own;
    // A robot acts within its scopes *and* its owner's current rights.
    const owner = await this.users.get(principal.owner);
    if (!owner || owner.disabled) return [];
    const theirs = grantedActions(this.users.principalOf(owner), request, isPublic);
    return own.filter((a) => theirs.includes(a));
  }

  /** Who the request is, for the management API's policy. */
  async identify(req: FastifyRequest): Promise<Caller> {
    const { principal, claims } = await this.authenticate(req);
    if (claims) {
      if (!claims.sub) return { kind: 'token', admin: false };
      const subject = await this.users.get(claims.sub);
      if (!subject || subject.disabled) return { kind: 'token', name: claims.sub, admin: false };
      return { kind: 'token', name: claims.sub, admin: false, actsFor: subject.robotScopes ? subject.owner : subject.name };
    }
    if (!principal.name) return { kind: 'anonymous', admin: false };
    if (principal.robotScopes) return { kind: 'robot', name: principal.name, admin: false, actsFor: principal.owner };
    return { kind: 'user', name: principal.name, admin: principal.admin, actsFor: principal.name };
  }

  /** Whether the request may do `access`, without throwing for "no". */
  async permits(req: FastifyRequest, access: AccessRequest): Promise<boolean> {
    const { principal, claims } = await this.authenticate(req);
    if (access.type === 'base') return !!principal.name || !!claims;
    if (claims) return tokenCovers(claims, access);
    const may = await this.granted(principal, access);
    return access.actions.every((a) => may.includes(a));
  }

  /** The token subject's current rights (a token names a user; its own rights are only its access list). */
  private async principalOfSubject(sub: string | undefined): Promise<Principal> {
    if (!sub) return ANONYMOUS;
    const u = await this.users.get(sub);
    return u && !u.disabled ? this.users.principalOf(u) : ANONYMOUS;
  }

  async check(req: FastifyRequest, access: AccessRequest): Promise<void> {
    const { principal, claims } = await this.authenticate(req);
    (req as FastifyRequest & { principal?: Principal }).principal = principal;
    if (access.type === 'base') {
      if (!principal.name && !claims) throw new RegistryError('UNAUTHORIZED', 'authentication required');
      return;
    }
    if (claims) {
      if (tokenCovers(claims, access)) return;
      // Not in the token. If the subject could get it, ask for a new token (insufficient_scope);
      // anonymous callers are asked to log in; others are denied.
      const subject = await this.principalOfSubject(claims.sub);
      const may = await this.granted(subject, access);
      if (!subject.name || access.actions.every((a) => may.includes(a))) {
        throw new RegistryError('UNAUTHORIZED', 'token does not cover this request', { name: access.name, actions: access.actions });
      }
      throw new RegistryError('DENIED', 'requested access to the resource is denied', { name: access.name, actions: access.actions });
    }
    const may = await this.granted(principal, access);
    if (access.actions.every((a) => may.includes(a))) return;
    if (!principal.name) throw new RegistryError('UNAUTHORIZED', 'authentication required', { name: access.name, actions: access.actions });
    throw new RegistryError('DENIED', 'requested access to the resource is denied', { name: access.name, actions: access.actions });
  }

  challenge(access: AccessRequest | AccessRequest[], error?: string): Record<string, string> {
    let value = `Bearer realm="${this.realm}",service="${TOKEN_SERVICE_NAME}"`;
    // Several scopes go in one parameter, space-separated, as distribution sends them (a mount asks
    // for the source's pull with the target's push).
    const scopes = (Array.isArray(access) ? access : [access])
      .filter((a) => a.type !== 'base')
      .map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`);
    if (scopes.length) value += `,scope="${scopes.join(' ')}"`;
    if (error) value += `,error="${error}"`;
    return { 'www-authenticate': value };
  }
}
