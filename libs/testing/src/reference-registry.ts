// Debian's docker-registry (CNCF distribution, the reference registry) with filesystem storage in
// a temp dir; optionally a pull-through cache of `proxyRemoteUrl`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, requireBinary, waitFor } from './net';

export interface RunningRegistry {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function startReferenceRegistry(
  opts: { proxyRemoteUrl?: string; proxyUsername?: string; proxyPassword?: string; htpasswd?: string } = {},
): Promise<RunningRegistry> {
  const bin = requireBinary('docker-registry', 'docker-registry');
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ref-registry-'));
  const lines = [
    'version: 0.1',
    'log: { level: error }',
    `storage: { filesystem: { rootdirectory: ${path.join(dir, 'data')} }, delete: { enabled: true } }`,
    `http: { addr: "127.0.0.1:${port}" }`,
  ];
  if (opts.proxyRemoteUrl) {
    const creds = opts.proxyUsername ? `, username: "${opts.proxyUsername}", password: "${opts.proxyPassword ?? ''}"` : '';
    lines.push(`proxy: { remoteurl: "${opts.proxyRemoteUrl}"${creds} }`);
  }
  if (opts.htpasswd) {
    writeFileSync(path.join(dir, 'htpasswd'), opts.htpasswd);
    lines.push(`auth: { htpasswd: { realm: test, path: ${path.join(dir, 'htpasswd')} } }`);
  }
  writeFileSync(path.join(dir, 'config.yml'), lines.join('\n') + '\n');
  const child = spawn(bin, ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}`);
      const r = await fetch(`${url}/v2/`);
      return r.status === 200 || r.status === 401;
    }, 20_000);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url,
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
