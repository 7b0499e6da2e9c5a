// A private Redis Cluster for one test suite (or a local rig): 3 masters + 3 replicas on free loopback
// ports, each redis-server in its own temp dir, no persistence. `redis+cluster://` URL for
// REDIS_URL; failoverMaster() kills a master (SIGKILL) and waits until its replica took over.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, requireBinary, waitFor } from './net';
import { startRedisProcess, type RunningRedis } from './redis-server';

const execFileP = promisify(execFile);

export interface ClusterNode extends RunningRedis {
  /** Still running (not killed by failoverMaster). */
  alive: boolean;
}

export interface RunningRedisCluster {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...` (every node, so a dead one is not the only seed). */
  url: string;
  nodes: ClusterNode[];
  /** Ports of the nodes that are masters now (asked of the cluster, so it follows failovers). */
  masters(): Promise<number[]>;
  /** Kill a master (the first one when no port is given) and wait until its replica is promoted and the cluster is ok. */
  failoverMaster(port?: number): Promise<number>;
  stop(): Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const bin = requireBinary('redis-cli', 'redis-tools');
  const r = await execFileP(bin, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return r.stdout;
}

async function clusterOk(port: number): Promise<boolean> {
  try {
    return /cluster_state:ok/.test(await cli(port, 'cluster', 'info'));
  } catch {
    return false;
  }
}

/** A master, or a replica whose link to its master is up (it has the data, it can be promoted). */
async function replicaSynced(port: number): Promise<boolean> {
  const info = await cli(port, 'info', 'replication');
  return /role:master/.test(info) || /master_link_status:up/.test(info);
}

/** Masters as `cluster nodes` on a live node lists them (port, flags): failed ones excluded. */
async function liveMasters(port: number): Promise<number[]> {
  const out = await cli(port, 'cluster', 'nodes');
  return out
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f.length > 2 && /(^|,)master(,|$)/.test(f[2]) && !/fail/.test(f[2]))
    .map((f) => Number(/:(\d+)@/.exec(f[1])![1]));
}

export interface RedisClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  nodeTimeoutMs?: number;
  /** Every port to run on (masters × (1 + replicas)): an empty cluster where a stopped one was, with the same URL. */
  ports?: number[];
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RunningRedisCluster> {
  const masterCount = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  const count = masterCount * (1 + replicas);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-cluster-test-'));
  const nodes: ClusterNode[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The cluster bus listens on port + 10000: both must be free.
    const ports: number[] = options.ports ? [...options.ports] : [];
    if (ports.length && ports.length !== count) throw new Error(`${count} ports needed, ${ports.length} given`);
    while (ports.length < count) {
      const p = await freePort();
      if (p + 10000 > 65535 || ports.includes(p)) continue;
      if (!(await portFree(p + 10000))) continue;
      ports.push(p);
    }
    for (const port of ports) {
      const nodeDir = path.join(dir, String(port));
      mkdirSync(nodeDir);
      const args = [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-node-timeout',
        String(options.nodeTimeoutMs ?? 2000),
        '--cluster-config-file',
        path.join(dir, `nodes-${port}.conf`),
        // A replica syncs at once (the default waits 5 s for more replicas), and always may take over
        // (a test cluster's replicas are fresh, never too stale to be promoted).
        '--repl-diskless-sync-delay',
        '0',
        '--cluster-replica-validity-factor',
        '0',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        nodeDir,
        '--daemonize',
        'no',
      ];
      const n = await startRedisProcess('redis-server (cluster node)', port, nodeDir, args);
      nodes.push(Object.assign(n, { alive: true }));
    }
    await cli(
      ports[0],
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    );
    await waitFor(async () => (await Promise.all(ports.map(clusterOk))).every(Boolean), 30_000, 100);
    // Every replica attached (so a failover has someone to promote).
    await waitFor(async () => (await liveMasters(ports[0])).length === masterCount, 30_000, 100);
    await waitFor(async () => (await Promise.all(ports.map(replicaSynced))).every(Boolean), 30_000, 100);
  } catch (e) {
    await stopAll();
    throw e;
  }
  const anyLive = () => nodes.find((n) => n.alive)!.port;
  return {
    url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    nodes,
    masters: () => liveMasters(anyLive()),
    async failoverMaster(port?: number) {
      const masters = await liveMasters(anyLive());
      const victim = port ?? masters[0];
      if (!masters.includes(victim)) throw new Error(`${victim} is not a master (masters: ${masters.join(', ')})`);
      const node = nodes.find((n) => n.port === victim)!;
      await node.kill();
      node.alive = false;
      await waitFor(
        async () => {
          const live = nodes.filter((n) => n.alive);
          if (!(await Promise.all(live.map((n) => clusterOk(n.port)))).every(Boolean)) return false;
          const now = await liveMasters(live[0].port);
          return now.length === masters.length && !now.includes(victim);
        },
        30_000,
        100,
      );
      return victim;
    },
    stop: stopAll,
  };
}

async function portFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
