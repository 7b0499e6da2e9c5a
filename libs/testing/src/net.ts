// Ports and readiness for test servers, all on 127.0.0.1.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Poll a URL (until it answers at all) or a predicate (until true), failing after `timeoutMs`. */
export async function waitFor(target: string | (() => Promise<boolean> | boolean), timeoutMs = 30_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (typeof target === 'string') {
        await fetch(target);
        return;
      }
      if (await target()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`not ready after ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}

export function requireBinary(bin: string, aptPackage: string): string {
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  try {
    return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${bin} is not installed: apt-get install -y --no-install-recommends ${aptPackage}`);
  }
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
