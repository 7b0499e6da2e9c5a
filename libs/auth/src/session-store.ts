// Browser sessions: a random id in an HttpOnly cookie names a record in Redis (auth-layout.ts).
// A record is revocable (sign-out, a password change, a disabled account) and bound to the
// password it was made with, so an account change ends it even if a revocation were missed.
import { createHash, randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { RedisKeys } from '@stevedore/platform';
import { authKeys } from './auth-layout';
import { passwordFingerprint } from './token-service';

export interface SessionRecord {
  user: string;
  /** The synchronizer token unsafe requests must echo in X-CSRF-Token. */
  csrfToken: string;
  /** A hash of the user's password hash when signing in: a new password makes the session stale. */
  passwordFingerprint: string;
  createdAt: string;
  expiresAt: string;
}

// 32 random bytes, base64url: anything else is not one of our ids and is not looked up.
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
  ) {}

  private key(id: string): string {
    return authKeys(this.keys).session(sha256(id));
  }

  async create(user: string, passwordHash: string): Promise<{ id: string; record: SessionRecord }> {
    const id = randomBytes(32).toString('base64url');
    const now = Date.now();
    const record: SessionRecord = {
      user,
      csrfToken: randomBytes(32).toString('base64url'),
      passwordFingerprint: passwordFingerprint(passwordHash),
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.ttlSeconds * 1000).toISOString(),
    };
    const key = this.key(id);
    const all = authKeys(this.keys).sessionsOf(user);
    // Every session lives ttlSeconds, so the newest one outlives the others: the set expires with it.
    // The session key and the user's set are in two slots on a Redis Cluster (a session is found by
    // its id alone): the set first, then the session. A crash between leaves a set member with no
    // session (revokeAll deletes a missing key, harmless), never a session revokeAll cannot find.
    await this.redis.multi().sadd(all, key).expire(all, this.ttlSeconds).exec();
    await this.redis.set(key, JSON.stringify(record), 'EX', this.ttlSeconds);
    return { id, record };
  }

  /** The live record the id names, or undefined (unknown, revoked, expired or malformed). */
  async find(id: string): Promise<SessionRecord | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    const raw = await this.redis.get(this.key(id));
    if (!raw) return undefined;
    const record = JSON.parse(raw) as SessionRecord;
    return Date.parse(record.expiresAt) > Date.now() ? record : undefined;
  }

  async revoke(id: string): Promise<void> {
    if (!SESSION_ID.test(id)) return;
    const key = this.key(id);
    const raw = await this.redis.get(key);
    // Session first (it ends now), then its member of the user's set (two slots on a cluster; a
    // member left behind names a missing key, which revokeAll deletes harmlessly).
    await this.redis.del(key);
    if (raw) await this.redis.srem(authKeys(this.keys).sessionsOf((JSON.parse(raw) as SessionRecord).user), key);
  }

  /** End every session of a user (password changed, account disabled or removed). */
  async revokeAll(user: string): Promise<number> {
    const all = authKeys(this.keys).sessionsOf(user);
    const keys = await this.redis.smembers(all);
    // One DEL per session (each its own slot on a cluster; auto-pipelined), the set last, so a crash
    // midway leaves the set naming the sessions still to end.
    await Promise.all(keys.map((k) => this.redis.del(k)));
    await this.redis.del(all);
    return keys.length;
  }
}
