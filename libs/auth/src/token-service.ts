// Registry tokens (Docker token authentication): short-lived ES256 JWTs carrying exactly the
// granted actions, and long-lived refresh tokens for `offline_token=true`. The signing key comes
// from configuration or is generated once and kept in storage, so every replica signs alike.
import { createHash, createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, jwtVerify, type JWTPayload } from 'jose';
import { RegistryError } from '@stevedore/oci';
import type { StorageDriver } from '@stevedore/storage';
import type { Principal, ResourceRequest } from './principal';

export const TOKEN_SERVICE_NAME = 'stevedore';
const ISSUER = 'stevedore';
const KEY_PATH = 'auth/keys/token-es256.pem';
const REFRESH_AUDIENCE = 'stevedore-refresh';
const REFRESH_TTL_SECONDS = 30 * 24 * 3600;
const ALG = 'ES256';

export interface AccessClaim {
  type: string;
  name: string;
  actions: string[];
}

export interface RegistryClaims extends JWTPayload {
  access: AccessClaim[];
}

export interface RefreshClaims {
  sub: string;
  /** Fingerprint of the password hash at issue time: changing the password revokes the token. */
  pwd: string;
}

/** A short, one-way fingerprint of a password hash (never the hash itself) for refresh tokens. */
export function passwordFingerprint(passwordHash: string): string {
  return createHash('sha256').update('stevedore-refresh\0').update(passwordHash).digest('base64url').slice(0, 22);
}

/**
 * Reads a P-256 private key from PEM (PKCS#8 or SEC1 `EC PRIVATE KEY`). Environment variables often
 * carry PEM with literal `\n`; those are accepted too. Throws without echoing the key.
 */
export function loadSigningKey(pem: string): KeyObject {
  const text = pem.includes('\\n') && !pem.includes('\n') ? pem.replace(/\\n/g, '\n') : pem;
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    throw new Error('STEVEDORE_TOKEN_KEY is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('STEVEDORE_TOKEN_KEY must be an EC P-256 private key (tokens are ES256)');
  }
  return key;
}

export class TokenService {
  private constructor(
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
    private readonly kid: string,
    private readonly ttlSeconds: number,
  ) {}

  static async fromKey(privateKey: KeyObject, ttlSeconds: number): Promise<TokenService> {
    const publicKey = createPublicKey(privateKey);
    const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
    return new TokenService(privateKey, publicKey, kid, ttlSeconds);
  }

  static async create(storage: StorageDriver, ttlSeconds: number, configuredPem?: string): Promise<TokenService> {
    let pem = configuredPem;
    if (!pem) {
      const stored = await storage.getContent(KEY_PATH).catch(() => undefined);
      if (stored) pem = stored.toString();
      else {
        const { privateKey } = await generateKeyPair(ALG, { extractable: true });
        await storage.putContent(KEY_PATH, await exportPKCS8(privateKey));
        // Two replicas starting at once may both generate one: use whichever landed.
        pem = (await storage.getContent(KEY_PATH)).toString();
      }
    }
    return TokenService.fromKey(loadSigningKey(pem), ttlSeconds);
  }

  get ttl(): number {
    return this.ttlSeconds;
  }

  /** The public half as a JWK (with kid), for anyone who wants to verify tokens offline. */
  async publicJwk(): Promise<Record<string, unknown>> {
    return { ...(await exportJWK(this.publicKey)), kid: this.kid, alg: ALG, use: 'sig' };
  }

  async issue(
    principal: Principal,
    access: AccessClaim[],
    service = TOKEN_SERVICE_NAME,
  ): Promise<{ token: string; expiresIn: number; issuedAt: string }> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: ALG, typ: 'JWT', kid: this.kid })
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

  /** Verify signature, algorithm, issuer, audience and times; UNAUTHORIZED otherwise. */
  async verify(token: string, service = TOKEN_SERVICE_NAME): Promise<RegistryClaims> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        issuer: ISSUER,
        audience: service,
        algorithms: [ALG],
        requiredClaims: ['exp', 'iat', 'jti'],
      });
      if (!isAccessList(payload.access)) throw new Error('no access claim');
      return payload as RegistryClaims;
    } catch (e) {
      throw new RegistryError('UNAUTHORIZED', 'invalid or expired token', { reason: tokenErrorReason(e) });
    }
  }

  async issueRefresh(principal: Principal, passwordHash: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ pwd: passwordFingerprint(passwordHash) })
      .setProtectedHeader({ alg: ALG, typ: 'JWT', kid: this.kid })
      .setIssuer(ISSUER)
      .setSubject(principal.name ?? '')
      .setAudience(REFRESH_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + REFRESH_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(this.privateKey);
  }

  async verifyRefresh(token: string): Promise<RefreshClaims> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, { issuer: ISSUER, audience: REFRESH_AUDIENCE, algorithms: [ALG] });
      if (!payload.sub || typeof payload.pwd !== 'string') throw new Error('no subject');
      return { sub: payload.sub, pwd: payload.pwd };
    } catch {
      throw new RegistryError('UNAUTHORIZED', 'invalid or expired refresh token');
    }
  }
}

function isAccessList(v: unknown): v is AccessClaim[] {
  return (
    Array.isArray(v) &&
    v.every(
      (c) =>
        !!c &&
        typeof c === 'object' &&
        typeof c.type === 'string' &&
        typeof c.name === 'string' &&
        Array.isArray(c.actions) &&
        c.actions.every((a: unknown) => typeof a === 'string'),
    )
  );
}

// jose's error codes say why (expired, bad signature) without repeating any of the token.
function tokenErrorReason(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'ERR_JWT_EXPIRED') return 'expired';
  if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return 'signature';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return 'claims';
  return 'invalid';
}

/** Whether the token's access list covers every action of the request. */
export function tokenCovers(claims: RegistryClaims, request: ResourceRequest): boolean {
  if (request.type === 'base') return true;
  return request.actions.every((a) =>
    claims.access.some((c) => c.type === request.type && c.name === request.name && (c.actions.includes(a) || c.actions.includes('*'))),
  );
}
