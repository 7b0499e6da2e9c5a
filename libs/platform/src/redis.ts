// One ioredis connection per process for indexes (BullMQ opens its own). Fails fast at start with a
// hint when Redis cannot be reached, instead of retrying silently forever.
import Redis, { Cluster, type ChainableCommander, type ClusterOptions, type RedisOptions } from 'ioredis';
import { redactRedisUrl, redisTarget, type ClusterRedis, type RedisTarget } from './config';

/** Where to connect and how to authenticate (retries and timeouts are each connection's own). */
export type RedisConnectionOptions = Omit<RedisOptions, 'retryStrategy'>;

/** How to start a Redis for this URL, for the start-up message. */
function startHint(target: RedisTarget): string {
  if (target.mode === 'cluster')
    return `a Redis Cluster (redis-server --cluster-enabled yes on each node, then redis-cli --cluster create) with a node at ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
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
  if (t.mode === 'cluster') throw new Error('a redis+cluster:// URL has no single connection: use createRedisCluster');
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

/** Whether REDIS_URL names a Redis Cluster (redis+cluster://). */
export function isRedisCluster(url: string): boolean {
  return redisTarget(url).mode === 'cluster';
}

/** The options every node connection of a cluster gets (auth, TLS) on top of `node`'s. */
function clusterNodeOptions(t: ClusterRedis): NonNullable<ClusterOptions['redisOptions']> {
  return {
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    ...(t.tls ? { tls: {} } : {}),
  };
}

/**
 * A Redis Cluster client for a redis+cluster:// URL. `node` options go to every node connection
 * (timeouts, maxRetriesPerRequest); the rest to the cluster client. Reads go to masters: the index
 * is read right after it is written (read-your-writes), which a replica does not promise.
 */
export function createRedisCluster(
  url: string,
  options: Omit<ClusterOptions, 'redisOptions'> & { node?: NonNullable<ClusterOptions['redisOptions']> } = {},
): Cluster {
  const t = redisTarget(url);
  if (t.mode !== 'cluster') throw new Error(`${redactRedisUrl(url)} is not a redis+cluster:// URL`);
  const { node = {}, ...rest } = options;
  return new Cluster(
    t.nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      scaleReads: 'master',
      // Ask again soon while no startup node answers (the default gives up after a few tries).
      clusterRetryStrategy: (times: number) => Math.min(100 * times, 2000),
      // During a failover (CLUSTERDOWN, TRYAGAIN, a node gone) ioredis retries after these delays,
      // at most maxRedirections times: within the command timeout, then the request answers 503.
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      maxRedirections: 16,
      slotsRefreshTimeout: 2000,
      ...rest,
      redisOptions: { ...clusterNodeOptions(t), ...node },
    },
  );
}

/**
 * The index connection. Requests must fail fast when Redis is gone (a 503 within the command
 * timeout, not a wait of minutes): no offline queue, one try per command, a timeout on every
 * command; the connection keeps reconnecting in the background and requests succeed again when it
 * is back. Errors are logged once per outage, not once per retry.
 *
 * For a redis+cluster:// URL it is an ioredis Cluster, typed as Redis: the command methods are the
 * same, and the code that differs on a cluster (SCAN over every master, pipelines that must stay in
 * one slot) goes through the helpers below (scanKeys, isCluster), not through the type.
 */
export async function connectRedis(
  url: string,
  options: RedisOptions & { commandTimeoutMs?: number; log?: (message: string) => void } = {},
): Promise<Redis> {
  const { commandTimeoutMs = 1500, log = (m: string) => console.warn(m), ...rest } = options;
  const target = redisTarget(url);
  const where = redactRedisUrl(url);
  const redis: Redis | Cluster =
    target.mode === 'cluster'
      ? createRedisCluster(url, {
          lazyConnect: true,
          // Not on a cluster: an auto-pipeline whose slot moved in a failover had its MOVED answers
          // surface as errors instead of being followed (a commit-worker failed every retry for 15 s
          // with "MOVED 13335 <new master>" in the scale-out suite); single commands are redirected.
          enableAutoPipelining: false,
          enableOfflineQueue: false,
          node: { maxRetriesPerRequest: 1, commandTimeout: commandTimeoutMs, connectTimeout: 5000, ...rest },
        })
      : new Redis({
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
    // A cluster client keeps trying its startup nodes (clusterRetryStrategy): bounded here.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000).unref())),
    ]).finally(() => clearTimeout(timer));
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
  return redis as Redis;
}

/** Whether this connection (connectRedis's) is a Redis Cluster client. */
export function isCluster(redis: Redis | Cluster): redis is Cluster {
  return (redis as { isCluster?: boolean }).isCluster === true;
}

/**
 * Every key matching `pattern`, in batches (as SCAN returns them): on a cluster, SCAN of each master
 * in turn (a node's SCAN sees only its own slots). A key may come twice (SCAN's promise); callers
 * treat batches as idempotent work. A master that fails over mid-scan is scanned again from its
 * replica's start.
 */
export async function* scanKeys(redis: Redis | Cluster, pattern: string, count = 1000): AsyncGenerator<string[]> {
  const nodes: Redis[] = isCluster(redis) ? await currentMasters(redis) : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== '0');
  }
}

/**
 * `run` once per hash slot of `items` (grouped by slot of `keyOf(item)`), in parallel: what a
 * pipeline or multi-key command over unrelated keys must become on a cluster, where a pipeline and
 * every command must stay within one slot. On one Redis there is a single group (one round trip).
 */
export async function perSlot<T, R>(
  redis: Redis | Cluster,
  items: T[],
  keyOf: (item: T) => string,
  run: (group: T[]) => Promise<R>,
): Promise<R[]> {
  if (!isCluster(redis)) return items.length ? [await run(items)] : [];
  const groups = new Map<number, T[]>();
  for (const it of items) {
    const slot = keySlot(keyOf(it));
    const g = groups.get(slot);
    if (g) g.push(it);
    else groups.set(slot, [it]);
  }
  return Promise.all([...groups.values()].map(run));
}

/**
 * Whether an error means Redis could not be reached or did not answer in time (or is a replica,
 * mid-failover; or, on a cluster, has no master for a slot yet, or keeps redirecting).
 */
export function isRedisUnavailable(e: unknown): boolean {
  const err = e as { name?: string; message?: string; code?: string } | undefined;
  if (!err) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  return /Stream isn't writeable|Connection is closed|Command timed out|enableOfflineQueue|ECONNREFUSED|ECONNRESET|EPIPE|Reached the max retries|READONLY|All sentinels are unreachable|^CLUSTERDOWN|^TRYAGAIN|^MOVED|^ASK|Failed to refresh slots cache|None of startup nodes is available|Too many Cluster redirections|Cluster isn't ready/.test(
    err.message ?? '',
  );
}

/**
 * `op` (something Redis answers), or, while Redis cannot answer, `fallback` (given the error; it may
 * throw it again): for the reads Redis only indexes or caches, which storage can answer instead.
 * Any other error is thrown as it is.
 */
export async function unlessRedisUnavailable<T>(op: Promise<T>, fallback: (e: unknown) => T | Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (e) {
    if (!isRedisUnavailable(e)) throw e;
    return fallback(e);
  }
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

/**
 * Keys of one deployment: `<prefix>:<parts>`; repository names go in `{}` so Redis Cluster keeps a
 * repo's keys together. `cluster` (a redis+cluster:// REDIS_URL) makes `tag` a hash tag too: the
 * keys of one digest (its index record and DigestGuard's stamps) then share a slot, so the GC
 * scripts over them stay single-slot. One Redis keeps the untagged names existing deployments have.
 */
export class RedisKeys {
  constructor(
    readonly prefix: string,
    readonly cluster = false,
  ) {}
  key(...parts: string[]): string {
    return `${this.prefix}:${parts.join(':')}`;
  }
  repo(name: string, ...parts: string[]): string {
    return `${this.prefix}:repo:{${name}}${parts.length ? ':' + parts.join(':') : ''}`;
  }
  /** `{part}` on a cluster (a hash tag), `part` on one Redis. */
  tag(part: string): string {
    return this.cluster ? `{${part}}` : part;
  }
  /** What `tag` wrapped, back from the end of a key (`<prefix>…<tag(part)>`). */
  untag(tagged: string): string {
    return this.cluster && tagged.startsWith('{') && tagged.endsWith('}') ? tagged.slice(1, -1) : tagged;
  }
}

/**
 * One page of SCAN over `pattern` with a resumable cursor; on a cluster, over every master in turn
 * (the cursor is `<master index>:<node cursor>`, masters in address order). Undefined cursor: done.
 * A failover between pages may make a page repeat or skip keys of the moved master, as SCAN may
 * repeat keys: callers (GC's listing) treat a missed key as one seen next run.
 */
export async function scanPage(
  redis: Redis | Cluster,
  pattern: string,
  cursor = '0',
  count = 1000,
): Promise<{ keys: string[]; cursor?: string }> {
  if (!isCluster(redis)) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', count);
    return next === '0' ? { keys } : { keys, cursor: next };
  }
  const m = /^(\d+):(\d+)$/.exec(cursor);
  // A scan's first page asks the cluster who the masters are now; its later pages keep that order.
  const masters = (m ? redis.nodes('master') : await currentMasters(redis)).sort((a, b) => nodeName(a).localeCompare(nodeName(b)));
  let i = m ? Number(m[1]) : 0;
  let c = m ? m[2] : '0';
  if (i >= masters.length) return { keys: [] };
  const [next, keys] = await masters[i].scan(c, 'MATCH', pattern, 'COUNT', count);
  if (next !== '0') return { keys, cursor: `${i}:${next}` };
  i++;
  c = '0';
  return i < masters.length ? { keys, cursor: `${i}:${c}` } : { keys };
}

/**
 * The cluster's masters as the cluster says now. ioredis reads the slot map at connect and again
 * only when a command meets MOVED or a node's connection ends: after a failover this client's
 * commands did not run into, nodes('master') drops the dead master but does not yet count its
 * promoted replica, so a scan skipped every key of that master (seen: 39 of 60 keys; GC kept an
 * orphan blob over two runs, its listing never reaching it). A scan asks CLUSTER SLOTS first. When
 * no node answers, the scan goes on with what the client knows, and fails there as it did.
 */
async function currentMasters(redis: Cluster): Promise<Redis[]> {
  await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
  return redis.nodes('master');
}

function nodeName(r: Redis): string {
  return `${r.options.host}:${r.options.port}`;
}

/**
 * A MULTI per hash slot (the slot of the first key of each command queued through `tx(key)`):
 * `exec` runs them one after another in the order their slots were first used, each atomic. On one
 * Redis every key is in one slot: a single MULTI, as before. Callers order their commands so that a
 * crash between two slots' MULTIs leaves a state the code already tolerates (each caller says why).
 */
export function slotMulti(redis: Redis | Cluster): { tx(key: string): ChainableCommander; exec(): Promise<void> } {
  const groups = new Map<number, ChainableCommander>();
  return {
    tx(key: string) {
      const slot = isCluster(redis) ? keySlot(key) : 0;
      let m = groups.get(slot);
      if (!m) groups.set(slot, (m = redis.multi()));
      return m;
    },
    async exec() {
      for (const m of groups.values()) {
        const r = await m.exec();
        const failed = r?.find(([e]) => e);
        if (failed) throw failed[0];
      }
    },
  };
}

// CRC16-CCITT (XModem), the hash of Redis Cluster's key slots (cluster-spec.md, appendix A).
const CRC16 = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/**
 * The cluster hash slot (0-16383) of a key: CRC16 of its hash tag (the part in the first `{…}`
 * when that is not empty), else of the whole key, modulo 16384.
 */
export function keySlot(key: string): number {
  const b = Buffer.from(key);
  let start = 0;
  let end = b.length;
  const open = b.indexOf(0x7b); // {
  if (open >= 0) {
    const close = b.indexOf(0x7d, open + 1); // }
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CRC16[((crc >> 8) ^ b[i]) & 0xff];
  return crc & 16383;
}
