// One ioredis connection per process for indexes (BullMQ opens its own). Fails fast at start with a
// hint when Redis cannot be reached, instead of retrying silently forever.
import Redis, { type RedisOptions } from 'ioredis';

export async function connectRedis(url: string, options: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, enableAutoPipelining: true, maxRetriesPerRequest: 3, ...options });
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    redis.disconnect();
    throw new Error(
      `cannot connect to Redis at ${url}: ${(e as Error).message}\n` +
        `  start one with: redis-server --port 6379 --save "" --appendonly no\n` +
        `  or point REDIS_URL at yours (e.g. REDIS_URL=redis://127.0.0.1:6379)`,
    );
  }
  return redis;
}

/** Keys of one deployment: `<prefix>:<parts>`; repository names go in `{}` so Redis Cluster keeps a repo's keys together. */
export class RedisKeys {
  constructor(readonly prefix: string) {}
  key(...parts: string[]): string {
    return `${this.prefix}:${parts.join(':')}`;
  }
  repo(name: string, ...parts: string[]): string {
    return `${this.prefix}:repo:{${name}}${parts.length ? ':' + parts.join(':') : ''}`;
  }
}
