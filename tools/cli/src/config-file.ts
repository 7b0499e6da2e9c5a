// Credentials stored as Docker stores them in ~/.docker/config.json: {"auths": {"host:port": {"auth": base64(user:pass)}}}.
// The file is written whole (temp file + rename) with mode 0600 in a 0700 directory; other keys are kept.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError } from './errors';

export interface Credentials {
  username: string;
  password: string;
}

export interface ConfigFile {
  auths?: Record<string, { auth?: string; [k: string]: unknown }>;
  [k: string]: unknown;
}

/** `$STEVEDORE_CONFIG` (a file path) or `~/.stevedore/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env['STEVEDORE_CONFIG'] || path.join(os.homedir(), '.stevedore', 'config.json');
}

export function readConfig(file: string): ConfigFile {
  if (!existsSync(file)) return {};
  const text = readFileSync(file, 'utf8');
  if (!text.trim()) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as ConfigFile;
  } catch (e) {
    throw new CliError(`${file} is not valid JSON (${(e as Error).message})`, 'CONFIG_INVALID', 'fix or remove the file and log in again');
  }
}

export function writeConfig(file: string, config: ConfigFile): void {
  const dir = path.dirname(file);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  // The umask may have narrowed the mode already; make sure it is exactly 0600 before the rename.
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function encodeAuth(c: Credentials): string {
  return Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64');
}

export function decodeAuth(auth: string): Credentials | undefined {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i <= 0) return undefined;
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

export function getCredentials(config: ConfigFile, server: string): Credentials | undefined {
  const entry = config.auths?.[server];
  return entry?.auth ? decodeAuth(entry.auth) : undefined;
}

export function setCredentials(config: ConfigFile, server: string, c: Credentials): ConfigFile {
  return { ...config, auths: { ...(config.auths ?? {}), [server]: { ...(config.auths?.[server] ?? {}), auth: encodeAuth(c) } } };
}

/** Returns the config without the server's entry, and whether there was one. */
export function removeCredentials(config: ConfigFile, server: string): { config: ConfigFile; removed: boolean } {
  if (!config.auths?.[server]) return { config, removed: false };
  const auths = { ...config.auths };
  delete auths[server];
  return { config: { ...config, auths }, removed: true };
}

/** True when the file can be read by group or others (warned about, as ssh does). */
export function tooOpen(file: string): boolean {
  try {
    return process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}
