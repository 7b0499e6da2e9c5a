// Runs the real `stevedore` command (tools/cli/bin/stevedore.js) as a child process. Each suite first
// bundles the CLI again (tools/scripts/build-cli.mjs), so the suites run the bundle as `npx stevedore`
// does, built from the sources as they are now; if it cannot be built the launcher runs the sources.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export const BIN = path.resolve(__dirname, '../bin/stevedore.js');
export const BUNDLE = path.resolve(__dirname, '../dist/main.js');

const build = spawnSync(process.execPath, [path.resolve(__dirname, '../../scripts/build-cli.mjs'), '--quiet'], { encoding: 'utf8' });
if (build.status !== 0) throw new Error(`bundling the CLI failed: ${build.stderr}`);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The argv the process was started with (to check secrets never appear there). */
  argv: string[];
}

export function runCli(
  args: string[],
  opts: { env?: Record<string, string>; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const argv = [BIN, ...args];
    const child = spawn(process.execPath, argv, {
      cwd: opts.cwd ?? path.resolve(__dirname, '../../..'),
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, argv });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The result, when the command exited 0; otherwise a failure showing what it printed. */
export function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** A gzip'd root filesystem tarball of `files` (a name ending in / is a directory), for `import`. */
export async function rootfsTarGz(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) {
    if (name.endsWith('/')) pack.entry({ name, type: 'directory', mode: 0o755, mtime: new Date(0) });
    else pack.entry({ name, mode: 0o755, mtime: new Date(0) }, body);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}
