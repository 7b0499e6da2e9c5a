// Ports and readiness for test servers, all on 127.0.0.1.
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

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

/**
 * The absolute path of `bin` on PATH, or an error naming the Debian package to install.
 * `installPackages` is the whole apt line's package list when one helper needs several.
 */
export function requireBinary(bin: string, aptPackage: string, installPackages = aptPackage): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, bin);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${bin} is not installed (Debian package ${aptPackage}): apt-get install -y --no-install-recommends ${installPackages}`);
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
