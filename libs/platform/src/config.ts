// Configuration: read once from the environment, validated with zod at start, then passed in.
// Domain code never reads process.env; it receives the parts of StevedoreConfig it needs.
import { z } from 'zod';

export const TARGETS = ['all', 'gateway', 'blob-service', 'metadata-service', 'commit-worker'] as const;
export type Target = (typeof TARGETS)[number];

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * A duration in seconds: a number of seconds, or a number with a unit (`500ms`, `90s`, `15m`, `1h`,
 * `2d`); `0` or `off` is 0 (disabled, where the variable says so).
 */
export const durationSeconds = z
  .string()
  .trim()
  .transform((v, ctx) => {
    if (v === 'off') return 0;
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (seconds, or a number with ms, s, m, h or d; 0 or off)` });
      return z.NEVER;
    }
    return Number(m[1]) * DURATION_UNITS[m[2] ?? 's'];
  });

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

export const ConfigSchema = z.object({
  /** Which services this process runs (Loki-style targets); 'all' is the single-process default. */
  STEVEDORE_TARGET: z.enum(TARGETS).default('all'),
  /**
   * Processes this target runs on this machine, sharing its port (libs/server cluster.ts). Unset:
   * one per core for `all`, one for a split target (scaled by replicas instead).
   */
  STEVEDORE_PROCESSES: z.coerce.number().int().min(1).max(256).optional(),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(5000),
  /** The URL clients use to reach the gateway (token realm, Location headers). Defaults to http://HOST:PORT. */
  STEVEDORE_PUBLIC_URL: z.string().url().optional(),
  STEVEDORE_DATA_DIR: z.string().default('./data'),
  /**
   * `redis[s]://[user:pass@]host:port[/db]`, or Sentinel:
   * `redis[s]+sentinel://[user:pass@]host1:26379,host2:26379/<masterName>[?db=N&sentinelPassword=...]`.
   * Or Redis Cluster: `redis[s]+cluster://[user:pass@]host1:port1,host2:port2` (any of its nodes; BullMQ's
   * queues then use the prefix as a hash tag, `{<prefix>}`).
   */
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  /** Prefix for every Redis key and queue, so several deployments can share one Redis. */
  STEVEDORE_REDIS_PREFIX: z.string().default('stevedore'),
  /** A Redis command not answered within this long fails (the request answers 503 with Retry-After). */
  STEVEDORE_REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().positive().default(1500),
  /** On SIGTERM/SIGINT: in-flight requests may finish within this long; then everything is closed and the process exits. */
  STEVEDORE_SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().positive().default(10),
  STEVEDORE_STORAGE: z.enum(['filesystem', 's3']).default('filesystem'),
  S3_ENDPOINT: z.string().url().optional(),
  S3_ACCESS_KEY: z.string().optional(),
  S3_SECRET_KEY: z.string().optional(),
  S3_BUCKET: z.string().default('stevedore'),
  S3_REGION: z.string().default('us-east-1'),
  /** Answer blob GETs with a 307 to a presigned S3 URL so pull bytes bypass the gateway. */
  S3_REDIRECT: bool.default(false),
  /** Split deployments: where the gateway finds the services it does not host. */
  STEVEDORE_BLOB_SERVICE_URL: z.string().url().optional(),
  STEVEDORE_METADATA_SERVICE_URL: z.string().url().optional(),
  /** Shared secret between split services (internal API); required when a service URL is set. */
  STEVEDORE_INTERNAL_TOKEN: z.string().optional(),
  /** When set, GET /metrics needs `Authorization: Bearer <this>` (open otherwise, as Prometheus expects by default). */
  STEVEDORE_METRICS_TOKEN: z.string().min(16).optional(),
  /** Docker token auth on /v2 and the management API. Off only for a private, single-user machine. */
  STEVEDORE_AUTH: bool.default(true),
  STEVEDORE_ADMIN_PASSWORD: z.string().optional(),
  /** Failed logins allowed per user and per client address within STEVEDORE_LOGIN_WINDOW_SECONDS. */
  STEVEDORE_LOGIN_MAX_FAILURES: z.coerce.number().int().positive().default(10),
  STEVEDORE_LOGIN_WINDOW_SECONDS: z.coerce.number().int().positive().default(300),
  /** How long a browser session lasts after signing in (it ends sooner on sign-out, a password change or a disabled account). */
  STEVEDORE_SESSION_TTL_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(12 * 3600),
  /**
   * Proxies whose X-Forwarded-For/-Proto are believed (addresses or CIDRs, comma-separated): the
   * client address for login limits, https for Secure cookies. Unset: no proxy is trusted.
   */
  STEVEDORE_TRUSTED_PROXIES: z.string().optional(),
  /** PEM private key (ES256) for signing registry tokens; generated under the data dir when absent. */
  STEVEDORE_TOKEN_KEY: z.string().optional(),
  STEVEDORE_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(300),
  /** Most uncompressed bytes one `docker import` or `docker load` request may become (an admin may raise it). */
  STEVEDORE_MAX_IMPORT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(4 * 2 ** 30),
  /** Most uncompressed bytes one container archive upload (`cp` into a container) may become. */
  STEVEDORE_MAX_CONTAINER_ARCHIVE_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(2 ** 30),
  /** Bytes of image layer indexes (browse, changes, containers' lower layers) one process keeps in memory. */
  STEVEDORE_LAYER_INDEX_CACHE_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(256 * 2 ** 20),
  /** Past 64 MiB, an archive that expands more than this many times its compressed size is refused (a bomb). */
  STEVEDORE_MAX_EXPANSION_RATIO: z.coerce.number().positive().default(100),
  /** Largest manifest body accepted (distribution uses 4 MiB). */
  STEVEDORE_MAX_MANIFEST_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
  STEVEDORE_COMMIT_CONCURRENCY: z.coerce.number().int().positive().default(2),
  /** A commit job's lock; a worker that dies holding it loses the job to another after this long. */
  STEVEDORE_COMMIT_LOCK_SECONDS: z.coerce.number().int().positive().default(30),
  /** Seconds a pull-through tag stays fresh before the upstream is asked again (digests never expire). */
  STEVEDORE_UPSTREAM_MANIFEST_TTL_SECONDS: z.coerce.number().int().min(0).default(300),
  /** Key (32 bytes, base64 or hex) that encrypts upstream credentials at rest; generated under the data dir when absent. */
  STEVEDORE_SECRET_KEY: z.string().optional(),
  STEVEDORE_REPLICATE_CONCURRENCY: z.coerce.number().int().positive().default(2),
  /** GC: a blob or manifest uploaded, mounted or referenced within this many seconds is never collected. */
  STEVEDORE_GC_GRACE_SECONDS: z.coerce.number().min(0).default(3600),
  /** GC: untagged manifests not pushed or referenced for this long are removed (0: never). */
  STEVEDORE_GC_UNTAGGED_MAX_AGE_SECONDS: z.coerce
    .number()
    .min(0)
    .default(7 * 24 * 3600),
  /** GC: upload sessions started this long ago are purged with their storage. */
  STEVEDORE_GC_UPLOAD_MAX_AGE_SECONDS: z.coerce
    .number()
    .min(0)
    .default(7 * 24 * 3600),
  /** GC: cron pattern of the scheduled run (a BullMQ job scheduler); 'off' for on-demand runs only. */
  STEVEDORE_GC_SCHEDULE: z.string().default('30 3 * * *'),
  /**
   * How often the consistency pass compares every Redis index with storage and repairs it (one
   * process of the deployment runs it: a BullMQ job scheduler); 0 or off: on demand only.
   */
  STEVEDORE_CONSISTENCY_INTERVAL: durationSeconds.default(3600).refine((s) => s === 0 || s >= 1, 'at least 1s (or 0/off to disable)'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type StevedoreConfig = z.infer<typeof ConfigSchema> & { publicUrl: string };

/** Parse and validate; throws one readable error listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): StevedoreConfig {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  try {
    redisTarget(c.REDIS_URL);
  } catch (e) {
    throw new Error(`invalid configuration:\n  REDIS_URL: ${(e as Error).message}`);
  }
  if (c.STEVEDORE_STORAGE === 's3' && (!c.S3_ENDPOINT || !c.S3_ACCESS_KEY || !c.S3_SECRET_KEY)) {
    throw new Error('invalid configuration:\n  STEVEDORE_STORAGE=s3 needs S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY');
  }
  const publicUrl = (c.STEVEDORE_PUBLIC_URL ?? `http://${c.HOST === '0.0.0.0' ? '127.0.0.1' : c.HOST}:${c.PORT}`).replace(/\/$/, '');
  return { ...c, publicUrl };
}

export interface RedisNode {
  host: string;
  port: number;
}
interface RedisAuth {
  username?: string;
  password?: string;
  /** rediss: TLS to the data nodes (and, for Sentinel, to the sentinels). */
  tls: boolean;
}
/** One primary. */
export interface StandaloneRedis extends RedisAuth {
  mode: 'standalone';
  host: string;
  port: number;
  db: number;
}
/** A primary found (and followed through failovers) by asking Redis Sentinels. */
export interface SentinelRedis extends RedisAuth {
  mode: 'sentinel';
  sentinels: RedisNode[];
  masterName: string;
  db: number;
  sentinelUsername?: string;
  sentinelPassword?: string;
}
/** A Redis Cluster, by its startup nodes. */
export interface ClusterRedis extends RedisAuth {
  mode: 'cluster';
  nodes: RedisNode[];
}
export type RedisTarget = StandaloneRedis | SentinelRedis | ClusterRedis;

const REDIS_URL = /^(rediss?)(\+sentinel|\+cluster)?:\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/;
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?)$/;

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new Error(`${what} is not percent-encoded correctly`);
  }
}

function parseNode(text: string, defaultPort: number): RedisNode {
  const m = /^(\[[^\]]*\]|[^:]*)(?::([^:]*))?$/.exec(text);
  if (!m || !HOST.test(m[1])) throw new Error(`"${text}" is not host[:port]`);
  const port = m[2] === undefined ? defaultPort : /^\d{1,5}$/.test(m[2]) ? Number(m[2]) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new Error(`"${text}": the port must be 1-65535`);
  return { host: m[1].startsWith('[') ? m[1].slice(1, -1) : m[1], port };
}

function parseDb(text: string): number {
  if (!/^\d{1,2}$/.test(text)) throw new Error(`database "${text}" is not a number 0-99`);
  return Number(text);
}

/**
 * REDIS_URL into what ioredis needs; the one parser of it (queues and the index connection both use
 * it). Throws a readable message for anything it does not understand rather than guessing.
 */
export function parseRedisUrl(url: string): RedisTarget {
  const m = REDIS_URL.exec(url);
  if (!m) throw new Error(`"${redactRedisUrl(url)}" is not redis://, rediss://, redis+sentinel:// or redis+cluster://`);
  const [, scheme, variant, userinfo, hostList, path = '', query = ''] = m;
  const tls = scheme === 'rediss';
  const auth: RedisAuth = { tls };
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    const user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon), 'the user name');
    if (user) auth.username = user;
    if (colon >= 0) auth.password = decode(userinfo.slice(colon + 1), 'the password');
  }
  const mode = variant === '+sentinel' ? 'sentinel' : variant === '+cluster' ? 'cluster' : 'standalone';
  if (!hostList) throw new Error('no host');
  const nodes = hostList.split(',').map((h) => parseNode(h, mode === 'sentinel' ? 26379 : 6379));
  const params = new URLSearchParams(query);
  const allowed = mode === 'sentinel' ? ['db', 'sentinelUsername', 'sentinelPassword'] : [];
  for (const k of params.keys()) if (!allowed.includes(k)) throw new Error(`unknown parameter "${k}" for ${scheme}${variant ?? ''}://`);
  switch (mode) {
    case 'standalone': {
      if (nodes.length !== 1) throw new Error('several hosts: use redis+sentinel:// (or redis+cluster://) for more than one');
      const db = path.length > 1 ? parseDb(path.slice(1)) : 0;
      return { mode, ...nodes[0], db, ...auth };
    }
    case 'sentinel': {
      const masterName = decode(path.slice(1), 'the master name');
      if (!masterName || masterName.includes('/'))
        throw new Error('redis+sentinel:// needs the master name as its path (…:26379/mymaster)');
      const sentinelUsername = params.get('sentinelUsername') ?? undefined;
      const sentinelPassword = params.get('sentinelPassword') ?? undefined;
      return {
        mode,
        sentinels: nodes,
        masterName,
        db: params.has('db') ? parseDb(params.get('db')!) : 0,
        ...auth,
        ...(sentinelUsername !== undefined ? { sentinelUsername } : {}),
        ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
      };
    }
    case 'cluster':
      if (path.length > 1) throw new Error('redis+cluster:// has no database or path (a cluster has database 0 only)');
      return { mode, nodes, ...auth };
  }
}

/**
 * The target of REDIS_URL: one primary, a primary found through Sentinel, or a Redis Cluster (every
 * multi-key operation keeps to one hash slot: see the layout files' key tables).
 */
export function redisTarget(url: string): RedisTarget {
  return parseRedisUrl(url);
}

/** REDIS_URL for messages and logs: the password replaced by ***. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^([^:/?#]+:\/\/[^:@/?#]*:)[^@/?#]*@/, '$1***@').replace(/([?&]sentinelPassword=)[^&#]*/, '$1***');
}

/**
 * What a module does in the process it is wired into: one options type for every domain module
 * (libs/server targets derive them from the roles a target runs).
 */
export interface ModuleRoles {
  /** Serve the module's public API routes (/api/v1/...). */
  api?: boolean;
  /** Run the module's queue workers. */
  workers?: boolean;
  /** Serve the module's service to other processes (/internal/v1, split targets). */
  serveInternal?: boolean;
}
