// A private redis-server for one test suite: its own port and temp dir, no persistence.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, requireBinary, waitFor } from './net';

export interface RunningRedis {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** `port` restarts a Redis where a stopped one was (outage tests). */
export async function startRedis(options: { port?: number } = {}): Promise<RunningRedis> {
  const bin = requireBinary('redis-server', 'redis-server');
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-test-'));
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { default: net } = await import('node:net');
  try {
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const sock = net.connect(port, '127.0.0.1', () => {
            sock.write('PING\r\n');
          });
          sock.on('data', (d) => {
            sock.destroy();
            resolve(d.toString().startsWith('+PONG'));
          });
          sock.on('error', () => resolve(false));
        }),
      15_000,
    );
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`redis-server did not start on ${port}: ${(e as Error).message}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
