// Brute-force protection: failed logins counted per user and per client address in Redis with a
// window; past the limit every attempt is refused (TOOMANYREQUESTS, Retry-After) until it expires.
import { authKeys } from './auth-layout';
import type Redis from 'ioredis';
import { RegistryError } from '@stevedore/oci';
import { RedisKeys } from '@stevedore/platform';

export class LoginLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly maxFailures: number,
    private readonly windowSeconds: number,
  ) {}

  private k(kind: 'user' | 'ip', id: string): string {
    return authKeys(this.keys).failures(kind, id);
  }

  /** Refuse before checking the password when either counter is at the limit. */
  async check(user: string, ip: string): Promise<void> {
    // Two slots on a cluster: two GETs (auto-pipelined), not MGET.
    const [u, i] = await Promise.all([this.redis.get(this.k('user', user)), this.redis.get(this.k('ip', ip))]);
    if (Number(u ?? 0) >= this.maxFailures || Number(i ?? 0) >= this.maxFailures) {
      const ttl = Math.max(await this.redis.ttl(this.k('user', user)), await this.redis.ttl(this.k('ip', ip)), 1);
      throw new RegistryError('TOOMANYREQUESTS', 'too many failed logins; try again later', { retryAfterSeconds: ttl });
    }
  }

  async failed(user: string, ip: string): Promise<void> {
    // A MULTI per counter (each its own slot on a cluster): the counters are independent, each MULTI
    // keeps a counter from being left without its expiry.
    await Promise.all(
      [this.k('user', user), this.k('ip', ip)].map((key) => this.redis.multi().incr(key).expire(key, this.windowSeconds, 'NX').exec()),
    );
  }

  async succeeded(user: string): Promise<void> {
    await this.redis.del(this.k('user', user));
  }
}
