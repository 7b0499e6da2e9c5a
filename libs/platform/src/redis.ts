// One ioredis connection per process for indexes (BullMQ opens its own). Fails fast at start with a
// hint when Redis cannot be reached, instead of retrying silently forever.
import Redis, { type RedisOptions } from 'ioredis';
import { redactRedisUrl, redisTarget, type SentinelRedis, type StandaloneRedis } from './config';

/** Where to connect and how to authenticate (retries and timeouts are each connection's own). */
export type RedisConnectionOptions = Omit<RedisOptions, 'retryStrategy'>;

/** How to start a Redis for this URL, for the start-up message. */
function startHint(target: StandaloneRedis | SentinelRedis): string {
  if (target.mode === 'sentinel')
    return `a primary that the sentinels at ${target.sentinels.map((n) => `${n.host}:${n.port}`).join(',')} monitor as "${target.masterName}"`;
  return `redis-server --port ${target.port} --save "" --appendonly no`;
}

/**
 * ioredis options for REDIS_URL (config.ts parses it): host and port of one primary, or the
 * sentinels and master name, with which ioredis finds the primary and follows it through failovers.
 * Every connection of the platform (the index connection and BullMQ's) is made from these.
 */
export function redisConnectionOptions(url: string): RedisConnectionOptions {
  const t = redisTarget(url);
  const auth: RedisConnectionOptions = {
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    ...(t.tls ? { tls: {} } : {}),
    db: t.db,
  };
  if (t.mode === 'standalone') return { host: t.host, port: t.port, ...auth };
  return {
    sentinels: t.sentinels.map((n) => ({ host: n.host, port: n.port })),
    name: t.masterName,
    ...auth,
    ...(t.sentinelUsername !== undefined ? { sentinelUsername: t.sentinelUsername } : {}),
    ...(t.sentinelPassword !== undefined ? { sentinelPassword: t.sentinelPassword } : {}),
    ...(t.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
    // A primary demoted without dying (a manual failover, a partition healed) answers writes with
    // READONLY: reconnect, and the sentinels name the new primary. (ioredis's failoverDetector would
    // do it sooner, but a connection closed with QUIT, as BullMQ closes its own, leaves its
    // subscription to the sentinels open in ioredis 6.0.0, and the process never exits.)
    reconnectOnError: (e: Error) => (/^READONLY/.test(e.message) ? 1 : false),
    // Ask again soon when no sentinel answers (the default waits up to 10 s).
    sentinelRetryStrategy: (times: number) => Math.min(100 * times, 1000),
  };
}

/**
 * The index connection. Requests must fail fast when Redis is gone (a 503 within the command
 * timeout, not a wait of minutes): no offline queue, one try per command, a timeout on every
 * command; the connection keeps reconnecting in the background and requests succeed again when it
 * is back. Errors are logged once per outage, not once per retry.
 */
export async function connectRedis(
  url: string,
  options: RedisOptions & { commandTimeoutMs?: number; log?: (message: string) => void } = {},
): Promise<Redis> {
  const { commandTimeoutMs = 1500, log = (m: string) => console.warn(m), ...rest } = options;
  const target = redisTarget(url);
  const where = redactRedisUrl(url);
  const redis = new Redis({
    ...redisConnectionOptions(url),
    lazyConnect: true,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    ...rest,
  });
  let down = false;
  let started = false;
  redis.on('error', (e: Error) => {
    redisReachable = false;
    // Before the first connect the start-up message below says it all.
    if (down || !started) return;
    down = true;
    log(`redis at ${where} is unreachable (${e.message}); requests that need it answer 503 until it is back`);
  });
  redis.on('ready', () => {
    redisReachable = true;
    if (down) log(`redis at ${where} is back`);
    down = false;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    redis.disconnect();
    throw new Error(
      `cannot connect to Redis at ${where}: ${(e as Error).message}\n` +
        `  start one with: ${startHint(target)}\n` +
        `  or point REDIS_URL at yours (e.g. REDIS_URL=redis://127.0.0.1:6379)`,
    );
  }
  // From here, outages are logged (once each).
  started = true;
  return redis;
}

/** Whether an error means Redis could not be reached or did not answer in time (or is a replica, mid-failover). */
export function isRedisUnavailable(e: unknown): boolean {
  const err = e as { name?: string; message?: string; code?: string } | undefined;
  if (!err) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  return /Stream isn't writeable|Connection is closed|Command timed out|enableOfflineQueue|ECONNREFUSED|ECONNRESET|EPIPE|Reached the max retries|READONLY|All sentinels are unreachable/.test(
    err.message ?? '',
  );
}

// Whether the process's index connection last saw Redis answer. Queues and workers use the same
// Redis: when it is gone, waiting for their orderly close only delays the exit.
let redisReachable = true;

/**
 * Close something within `ms` (200 ms while Redis is unreachable), or give up on it (force it,
 * when a way is given). Shutdown hooks run one module after another, so these bounds add up.
 */
export async function closeWithin(ms: number, close: () => Promise<unknown> | unknown, force?: () => unknown): Promise<void> {
  if (!redisReachable) ms = Math.min(ms, 200);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms).unref()));
  const r = await Promise.race([
    Promise.resolve()
      .then(close)
      .then(
        () => 'done',
        () => 'done',
      ),
    late,
  ]);
  clearTimeout(timer);
  if (r !== 'late' || !force) return;
  // Forcing may itself wait on the dead peer (BullMQ's disconnect does): bounded too.
  await Promise.race([
    Promise.resolve()
      .then(force)
      .catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, 500).unref()),
  ]);
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
