// Registry tokens (Docker token authentication): short-lived ES256 JWTs carrying exactly the
// granted actions, and long-lived refresh tokens for `offline_token=true`. The signing key comes
// from configuration or is generated once and kept in storage, so every replica signs alike.
import { randomUUID } from 'node:crypto';
import { SignJWT, exportPKCS8, generateKeyPair, importPKCS8, jwtVerify, type JWTPayload, type CryptoKey, type KeyObject } from 'jose';
import { RegistryError } from '@stevedore/oci';
import type { StorageDriver } from '@stevedore/storage';
import type { Principal, ResourceRequest } from './principal';

export const TOKEN_SERVICE_NAME = 'stevedore';
const ISSUER = 'stevedore';
const KEY_PATH = 'auth/keys/token-es256.pem';
const REFRESH_AUDIENCE = 'stevedore-refresh';
const REFRESH_TTL_SECONDS = 30 * 24 * 3600;

type SigningKey = CryptoKey | KeyObject;

export interface AccessClaim {
  type: string;
  name: string;
  actions: string[];
}

export interface RegistryClaims extends JWTPayload {
  access: AccessClaim[];
  admin?: boolean;
}

export class TokenService {
  private constructor(
    private readonly privateKey: SigningKey,
    private readonly publicKey: SigningKey,
    private readonly ttlSeconds: number,
  ) {}

  static async create(storage: StorageDriver, ttlSeconds: number, configuredPem?: string): Promise<TokenService> {
    let pem = configuredPem;
    if (!pem) {
      const stored = await storage.getContent(KEY_PATH).catch(() => undefined);
      if (stored) pem = stored.toString();
      else {
        const { privateKey } = await generateKeyPair('ES256', { extractable: true });
        await storage.putContent(KEY_PATH, await exportPKCS8(privateKey));
        // Two replicas starting at once may both generate one: use whichever landed.
        pem = (await storage.getContent(KEY_PATH)).toString();
      }
    }
    const privateKey = await importPKCS8(pem, 'ES256', { extractable: true });
    const { createPublicKey } = await import('node:crypto');
    const publicKey = createPublicKey(pem);
    return new TokenService(privateKey, publicKey, ttlSeconds);
  }

  get ttl(): number {
    return this.ttlSeconds;
  }

  async issue(principal: Principal, access: AccessClaim[], service = TOKEN_SERVICE_NAME): Promise<{ token: string; expiresIn: number; issuedAt: string }> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access, ...(principal.admin ? { admin: true } : {}) })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(principal.name ?? '')
      .setAudience(service)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + this.ttlSeconds)
      .setJti(randomUUID())
      .sign(this.privateKey);
    return { token, expiresIn: this.ttlSeconds, issuedAt: new Date(now * 1000).toISOString() };
  }

  /** Verify signature, issuer, audience and times; UNAUTHORIZED otherwise. */
  async verify(token: string, service = TOKEN_SERVICE_NAME): Promise<RegistryClaims> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, { issuer: ISSUER, audience: service, algorithms: ['ES256'] });
      if (!Array.isArray((payload as RegistryClaims).access)) throw new Error('no access claim');
      return payload as RegistryClaims;
    } catch (e) {
      throw new RegistryError('UNAUTHORIZED', 'invalid or expired token', { reason: (e as { code?: string }).code ?? 'invalid' });
    }
  }

  async issueRefresh(principal: Principal): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(principal.name ?? '')
      .setAudience(REFRESH_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + REFRESH_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(this.privateKey);
  }

  async verifyRefresh(token: string): Promise<string> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, { issuer: ISSUER, audience: REFRESH_AUDIENCE, algorithms: ['ES256'] });
      if (!payload.sub) throw new Error('no subject');
      return payload.sub;
    } catch {
      throw new RegistryError('UNAUTHORIZED', 'invalid or expired refresh token');
    }
  }
}

/** Whether the token's access list covers every action of the request. */
export function tokenCovers(claims: RegistryClaims, request: ResourceRequest): boolean {
  if (request.type === 'base') return true;
  return request.actions.every((a) =>
    claims.access.some((c) => c.type === request.type && c.name === request.name && (c.actions.includes(a) || c.actions.includes('*'))),
  );
}
