// Debian's docker-registry with htpasswd (Basic) auth, for the push/replicate tests: the target a
// user pushes to with credentials.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
// eslint-disable-next-line @nx/enforce-module-boundaries -- test helpers, test code only
import { freePort, waitFor } from '@stevedore/testing';

export interface HtpasswdRegistry {
  url: string;
  host: string;
  username: string;
  password: string;
  stop(): Promise<void>;
}

export async function startHtpasswdRegistry(username = 'pusher', password = 'secret-pass'): Promise<HtpasswdRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'registry-htpasswd-'));
  const port = await freePort();
  // Go's bcrypt reads $2a$; for passwords this short $2b$ is the same hash.
  writeFileSync(path.join(dir, 'htpasswd'), `${username}:${bcrypt.hashSync(password, 6).replace(/^\$2b\$/, '$2a$')}\n`);
  const config = [
    'version: 0.1',
    'log:',
    '  level: error',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: test-secret',
    'auth:',
    '  htpasswd:',
    '    realm: test',
    `    path: ${path.join(dir, 'htpasswd')}`,
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'config.yml'), config);
  const child: ChildProcess = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  child.stderr!.on('data', (b: Buffer) => log.push(b.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log.join('')}`);
      const r = await fetch(`${url}/v2/`).catch(() => undefined);
      return r?.status === 401;
    }, 30_000);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    username,
    password,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
