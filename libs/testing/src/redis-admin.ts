// Test access to the Redis a platform under test runs on, whichever it is: one redis-server or a
// Redis Cluster (STEVEDORE_TEST_REDIS=cluster). A cluster's KEYS and FLUSHALL are per node, and a DEL
// of keys in several slots is refused: these helpers go to every master, or key by key.
import Redis, { Cluster } from 'ioredis';
import { startRedisCluster } from './redis-cluster';
import { startRedis } from './redis-server';

/** A client for `url` (redis:// or redis+cluster://), ready; a Cluster client is typed as Redis (same commands). */
export async function openTestRedis(url: string): Promise<Redis> {
  const m = /^redis\+cluster:\/\/(.*)$/.exec(url);
  if (!m) return new Redis(url);
  const cluster = new Cluster(
    m[1].split(',').map((hp) => {
      const [host, port] = hp.split(':');
      return { host, port: Number(port) };
    }),
    { scaleReads: 'master' },
  );
  await new Promise<void>((resolve, reject) => {
    cluster.once('ready', () => resolve());
    cluster.once('error', reject);
  });
  return cluster as unknown as Redis;
}

/** The masters as the cluster says now (a client's own list lags a failover it did not run into). */
async function masters(redis: Redis): Promise<Redis[]> {
  const c = redis as unknown as Cluster;
  if (!c.isCluster) return [redis];
  await new Promise<void>((resolve) => c.refreshSlotsCache(() => resolve()));
  return c.nodes('master');
}

/** KEYS `pattern` on every master. */
export async function keysEverywhere(redis: Redis, pattern: string): Promise<string[]> {
  return (await Promise.all((await masters(redis)).map((n) => n.keys(pattern)))).flat();
}

/** Delete `keys`, one DEL each (they may be in different slots). */
export async function delEach(redis: Redis, keys: string[]): Promise<number> {
  return (await Promise.all(keys.map((k) => redis.del(k)))).reduce((a, b) => a + b, 0);
}

/** FLUSHALL on every master (only ever a test's private Redis). */
export async function flushEverywhere(redis: Redis): Promise<void> {
  await Promise.all((await masters(redis)).map((n) => n.flushall()));
}

/** A private Redis for a spec file: one redis-server, or with STEVEDORE_TEST_REDIS=cluster a 3+3 Redis Cluster. */
export async function startTestRedis(
  kind: 'single' | 'cluster' = process.env.STEVEDORE_TEST_REDIS === 'cluster' ? 'cluster' : 'single',
): Promise<{ url: string; cluster: boolean; stop(): Promise<void> }> {
  if (kind === 'cluster') {
    const c = await startRedisCluster();
    return { url: c.url, cluster: true, stop: () => c.stop() };
  }
  const r = await startRedis();
  return { url: r.url, cluster: false, stop: () => r.stop() };
}
