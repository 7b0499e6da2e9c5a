// Turns a request's credentials into a principal and decides access: Bearer tokens (verified on
// every call, cached until expiry), Basic credentials (rate limited), or anonymous. Implements the
// registry's AccessGuard, so the /v2 API and the management API ask the same questions.
import type { FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { RegistryError } from '@stevedore/oci';
import type { AccessGuard, AccessRequest } from '@stevedore/registry';
import { ANONYMOUS, grantedActions, type Principal, type ResourceRequest } from './principal';
import { TOKEN_SERVICE_NAME, tokenCovers, type RegistryClaims, type TokenService } from './token-service';
import type { UserStore } from './user-store';
import type { LoginLimiter } from './login-limiter';

export interface Authenticated {
  principal: Principal;
  /** Present when the request carried a registry token. */
  claims?: RegistryClaims;
}

function clientIp(req: FastifyRequest): string {
  return req.ip ?? req.socket?.remoteAddress ?? 'unknown';
}

export class Authenticator implements AccessGuard {
  private readonly verified = new Map<string, RegistryClaims>();
  // Basic credentials on every /v2 call would cost a bcrypt compare each; a verified pair is
  // remembered briefly under a hash of it (never the password itself).
  private readonly basicOk = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly users: UserStore,
    private readonly tokens: TokenService,
    private readonly limiter: LoginLimiter,
    private readonly realm: string,
  ) {}

  /** Check a user name and password (rate limited per user and per address). */
  async login(user: string, password: string, ip: string): Promise<Principal> {
    const key = createHash('sha256').update(user).update('\0').update(password).digest('hex');
    const hit = this.basicOk.get(key);
    if (hit && hit.until > Date.now()) return hit.principal;
    await this.limiter.check(user, ip);
    const principal = await this.users.verify(user, password);
    if (!principal) {
      await this.limiter.failed(user, ip);
      throw new RegistryError('UNAUTHORIZED', 'incorrect username or password');
    }
    await this.limiter.succeeded(user);
    if (this.basicOk.size > 10_000) this.basicOk.clear();
    this.basicOk.set(key, { principal, until: Date.now() + 30_000 });
    return principal;
  }

  private async verifyToken(token: string): Promise<RegistryClaims> {
    const hit = this.verified.get(token);
    if (hit && (hit.exp ?? 0) * 1000 > Date.now()) return hit;
    const claims = await this.tokens.verify(token, TOKEN_SERVICE_NAME);
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(token, claims);
    return claims;
  }

  async authenticate(req: FastifyRequest): Promise<Authenticated> {
    const h = req.headers.authorization;
    if (!h) return { principal: ANONYMOUS };
    const space = h.indexOf(' ');
    const scheme = h.slice(0, space).toLowerCase();
    const value = h.slice(space + 1).trim();
    if (scheme === 'bearer') {
      const claims = await this.verifyToken(value);
      return { principal: { name: claims.sub || undefined, admin: !!claims.admin }, claims };
    }
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new RegistryError('UNAUTHORIZED', 'malformed Basic credentials');
      return { principal: await this.login(decoded.slice(0, colon), decoded.slice(colon + 1), clientIp(req)) };
    }
    throw new RegistryError('UNAUTHORIZED', `unsupported authorization scheme ${scheme.slice(0, 20)}`);
  }

  async granted(principal: Principal, request: ResourceRequest): Promise<string[]> {
    const isPublic = request.type === 'repository' ? await this.users.isPublic(request.name) : false;
    return grantedActions(principal, request, isPublic);
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
      // Anonymous pull of a public repository needs no token at all.
      const may = await this.granted(principal, access);
      if (access.actions.every((a) => may.includes(a))) {
        throw new RegistryError('UNAUTHORIZED', 'token does not cover this request', { required: access, error: 'insufficient_scope' });
      }
      throw new RegistryError('DENIED', 'requested access to the resource is denied', { name: access.name, actions: access.actions });
    }
    const may = await this.granted(principal, access);
    if (access.actions.every((a) => may.includes(a))) return;
    if (!principal.name) throw new RegistryError('UNAUTHORIZED', 'authentication required', { name: access.name, actions: access.actions });
    throw new RegistryError('DENIED', 'requested access to the resource is denied', { name: access.name, actions: access.actions });
  }

  challenge(access: AccessRequest, error?: string): Record<string, string> {
    let value = `Bearer realm="${this.realm}",service="${TOKEN_SERVICE_NAME}"`;
    if (access.type !== 'base') value += `,scope="${access.type}:${access.name}:${access.actions.join(',')}"`;
    if (error) value += `,error="${error}"`;
    return { 'www-authenticate': value };
  }
}
