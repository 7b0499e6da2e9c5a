// The rig's Redis, pluggable: `single` (one redis-server), `sentinel` (a primary, one replica and three
// sentinels with a quorum of two, as the production overlay runs it) or `cluster` (3 masters and 3
// replicas, libs/testing's startRedisCluster). Every node is a private
// redis-server on a free loopback port: the shared Redis on 6379 is never touched.
import { startRedis, startRedisCluster, startSentinel, waitFor, type RunningRedis } from '@stevedore/testing';
import IORedis from 'ioredis';

export type RedisMode = 'single' | 'sentinel' | 'cluster';
export const REDIS_MODES: readonly RedisMode[] = ['single', 'sentinel', 'cluster'];

export interface RigRedis {
  mode: RedisMode;
  /** REDIS_URL for every Stevedore process. */
  url: string;
  /**
   * Kill (SIGKILL) the primary, or one cluster master, and resolve once a replica has been promoted
   * and answers writes. The old primary comes back as a replica of the new one, so the rig has two
   * nodes again. Refused for `single`: it has nothing to promote.
   */
  failover(): Promise<{ killedPort?: number; promotedPort?: number; ms: number }>;
  stop(): Promise<void>;
}

const MASTER_NAME = 'stevedore';

export async function startRigRedis(mode: RedisMode): Promise<RigRedis> {
  switch (mode) {
    case 'single':
      return single();
    case 'sentinel':
      return sentinel();
    case 'cluster':
      return cluster();
  }
}

async function single(): Promise<RigRedis> {
  const r = await startRedis();
  return {
    mode: 'single',
    url: r.url,
    async failover() {
      throw new Error('a single Redis has no replica to fail over to: start the rig with redis mode sentinel (or cluster)');
    },
    stop: () => r.stop(),
  };
}

async function sentinel(): Promise<RigRedis> {
  const nodes: RunningRedis[] = [];
  const sentinels: RunningRedis[] = [];
  const stopAll = async () => {
    for (const s of sentinels) await s.stop();
    for (const n of nodes) await n.stop();
  };
  try {
    const primary = await startRedis();
    nodes.push(primary, await startRedis({ replicaOf: primary.port }));
    for (let i = 0; i < 3; i++)
      sentinels.push(
        await startSentinel({ masterName: MASTER_NAME, masterPort: primary.port, quorum: 2, downAfterMs: 1000, failoverTimeoutMs: 3000 }),
      );
    // A failover needs a replica every sentinel knows of (they learn it from the primary's INFO) and
    // each other (hello messages): wait for both before anyone is allowed to fail the primary.
    await waitFor(() => sentinelsAgree(sentinels, nodes[1].port), 30_000, 250);
  } catch (e) {
    await stopAll();
    throw e;
  }
  const url = `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${MASTER_NAME}`;
  return {
    mode: 'sentinel',
    url,
    async failover() {
      const t0 = Date.now();
      const current = await masterPort(sentinels[0]);
      const victim = nodes.find((n) => n.port === current);
      const survivor = nodes.find((n) => n.port !== current);
      if (!victim || !survivor) throw new Error(`the sentinels name port ${current} as primary, which is not one of the rig's`);
      await victim.kill();
      await waitFor(
        async () => {
          for (const s of sentinels) if ((await masterPort(s).catch(() => -1)) !== survivor.port) return false;
          return isWritable(survivor.port);
        },
        30_000,
        100,
      ).catch(async (e: Error) => {
        const seen = await Promise.all(sentinels.map((s) => masterPort(s).catch((x: Error) => x.message)));
        throw new Error(`no failover from ${victim.port} to ${survivor.port}: ${e.message}; the sentinels name ${seen.join(', ')}`);
      });
      const ms = Date.now() - t0;
      // The killed primary rejoins as a replica of the new one (the sentinels would reconfigure it too).
      await victim.stop();
      nodes.splice(nodes.indexOf(victim), 1, await startRedis({ port: victim.port, replicaOf: survivor.port }));
      await waitFor(() => sentinelsAgree(sentinels, victim.port), 30_000, 250).catch((e: Error) => {
        throw new Error(`the sentinels do not see ${victim.port} back as a replica of ${survivor.port}: ${e.message}`);
      });
      return { killedPort: victim.port, promotedPort: survivor.port, ms };
    },
    stop: stopAll,
  };
}

async function cluster(): Promise<RigRedis> {
  const c = await startRedisCluster();
  return {
    mode: 'cluster',
    url: c.url,
    async failover() {
      // The killed master stays down (its slots are its replica's now): the cluster runs on with
      // three masters and two replicas, as one that lost a node.
      const t0 = Date.now();
      const killedPort = await c.failoverMaster();
      return { killedPort, ms: Date.now() - t0 };
    },
    stop: () => c.stop(),
  };
}

async function withClient<T>(port: number, fn: (r: IORedis) => Promise<T>): Promise<T> {
  const r = new IORedis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

async function masterPort(s: RunningRedis): Promise<number> {
  return withClient(s.port, async (r) => {
    const addr = (await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as [string, string] | null;
    return addr ? Number(addr[1]) : -1;
  });
}

/** It answers as a primary (ROLE), without writing into the platform's keyspace. */
async function isWritable(port: number): Promise<boolean> {
  return withClient(port, async (r) => ((await r.call('ROLE')) as [string])[0] === 'master').catch(() => false);
}

/** Every sentinel sees the replica on `replicaPort` connected, and knows the two other sentinels. */
async function sentinelsAgree(sentinels: RunningRedis[], replicaPort: number): Promise<boolean> {
  for (const s of sentinels) {
    const ok = await withClient(s.port, async (r) => {
      const replicas = (await r.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as string[][];
      const seen = replicas.some(
        (x) => x[x.indexOf('port') + 1] === String(replicaPort) && !/disconnected|down/.test(x[x.indexOf('flags') + 1]),
      );
      const others = (await r.call('SENTINEL', 'SENTINELS', MASTER_NAME)) as string[][];
      return seen && others.length >= sentinels.length - 1;
    }).catch(() => false);
    if (!ok) return false;
  }
  return true;
}
