// Private redis-servers for one test suite: each its own port and temp dir, no persistence. A
// primary, a replica of one (`replicaOf`), or a Redis Sentinel watching a primary (startSentinel).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, requireBinary, waitFor } from './net';

export interface RunningRedis {
  url: string;
  port: number;
  pid: number;
  /** Stop it (SIGTERM, then SIGKILL after 5 s) and remove its directory. */
  stop(): Promise<void>;
  /** Kill it at once (SIGKILL: a crash, no shutdown), and wait for it to be gone. */
  kill(): Promise<void>;
}

async function answersPing(port: number): Promise<boolean> {
  const { default: net } = await import('node:net');
  return new Promise<boolean>((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.write('PING\r\n');
    });
    sock.on('data', (d) => {
      sock.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    sock.on('error', () => resolve(false));
  });
}

/** Spawn redis-server with `args` (which must make it listen on `port`), wait for PONG; stop() removes `dir`. */
export async function startRedisProcess(what: string, port: number, dir: string, args: string[]): Promise<RunningRedis> {
  const bin = requireBinary('redis-server', 'redis-server');
  const child = spawn(bin, args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  try {
    await waitFor(() => answersPing(port), 15_000);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${what} did not start on ${port}: ${(e as Error).message}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    async stop() {
      if (running()) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      if (running()) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** `port` restarts a Redis where a stopped one was (outage tests); `replicaOf` makes it a replica of the Redis on that port. */
export async function startRedis(options: { port?: number; replicaOf?: number } = {}): Promise<RunningRedis> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-test-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
  if (options.replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(options.replicaOf));
  return startRedisProcess('redis-server', port, dir, args);
}

export interface SentinelOptions {
  /** The name clients ask the sentinel for (`redis+sentinel://…/<masterName>`). */
  masterName: string;
  /** Port of the primary on 127.0.0.1 it monitors. */
  masterPort: number;
  /** Sentinels that must agree the primary is down (1: this one alone). */
  quorum?: number;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}

/** A redis-sentinel (`redis-server sentinel.conf --sentinel`) monitoring one primary; `port` is the sentinel's. */
export async function startSentinel(options: SentinelOptions): Promise<RunningRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-sentinel-test-'));
  const conf = path.join(dir, 'sentinel.conf');
  // Sentinel rewrites its configuration file as it learns (replicas, failovers): it lives in the temp dir.
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${options.masterName} 127.0.0.1 ${options.masterPort} ${options.quorum ?? 1}`,
      `sentinel down-after-milliseconds ${options.masterName} ${options.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${options.masterName} ${options.failoverTimeoutMs ?? 3000}`,
      `sentinel parallel-syncs ${options.masterName} 1`,
      '',
    ].join('\n'),
  );
  return startRedisProcess('redis-sentinel', port, dir, [conf, '--sentinel']);
}
