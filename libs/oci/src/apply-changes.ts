// `docker commit -c`: Dockerfile instructions applied to an image config with Docker's rules
// (moby builder/dockerfile dispatchers): JSON and shell forms, $VAR expansion from the image's Env,
// ENV/LABEL merged by key, EXPOSE/VOLUME added to sets, relative WORKDIR joined to the current one.
import { posix } from 'node:path';
import { RegistryError } from './errors';
import type { ContainerConfig, ImageConfig } from './schemas';

export const COMMIT_INSTRUCTIONS = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR'] as const;
export type CommitInstruction = (typeof COMMIT_INSTRUCTIONS)[number];

const DEFAULT_SHELL = ['/bin/sh', '-c'];

function changeError(message: string, change: string): RegistryError {
  return new RegistryError('INVALID_REQUEST', message, { change: change.slice(0, 500) });
}

function envMap(env: readonly string[] | null | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
    else m.set(kv, '');
  }
  return m;
}

/**
 * Split into words as the Dockerfile lexer does: whitespace separates, quotes group, backslash
 * escapes, and (when `env` is given) `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR:+word}` expand outside
 * single quotes.
 */
export function splitWords(input: string, env?: Map<string, string>): string[] {
  const vars = env ?? new Map<string, string>();
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const expand = (): string => {
    // input[i] === '$'
    const rest = input.slice(i + 1);
    let m = /^\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}/.exec(rest);
    if (m) {
      i += m[0].length + 1;
      const v = vars.get(m[1]);
      if (m[2] === '-') return v ? v : m[3];
      if (m[2] === '+') return v ? m[3] : '';
      return v ?? '';
    }
    m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (m) {
      i += m[0].length + 1;
      return vars.get(m[0]) ?? '';
    }
    i++;
    return '$';
  };
  while (i < input.length) {
    const c = input[i];
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) throw new RegistryError('INVALID_REQUEST', 'unexpected end of input: unmatched single quote', { input });
      word += input.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (i < input.length && input[i] !== '"') {
        if (input[i] === '\\' && i + 1 < input.length && '"\\$'.includes(input[i + 1])) {
          word += input[i + 1];
          i += 2;
        } else if (input[i] === '$' && env) {
          word += expand();
        } else {
          word += input[i++];
        }
      }
      if (i >= input.length) throw new RegistryError('INVALID_REQUEST', 'unexpected end of input: unmatched double quote', { input });
      i++;
    } else if (c === '\\' && i + 1 < input.length) {
      word += input[i + 1];
      i += 2;
    } else if (c === '$' && env) {
      word += expand();
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** `["a","b"]` → the array; anything else (including invalid JSON) → undefined, meaning shell form. */
function jsonForm(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    // Docker falls back to the shell form when the JSON does not parse.
  }
  return undefined;
}

/** `k=v k2="v 2"` pairs, or the legacy `key value with spaces` form. */
function keyValues(rest: string, env: Map<string, string>, what: string, change: string): Array<[string, string]> {
  const words = splitWords(rest, env);
  if (words.length === 0) throw changeError(`${what} requires at least one argument`, change);
  if (!words[0].includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest.trim());
    if (!m) throw changeError(`${what} must have two arguments`, change);
    const value = splitWords(m[2], env).join(' ');
    return [[splitWords(m[1], env).join(''), value]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i < 0) throw changeError(`${what} names can not be blank or missing "=": "${w}"`, change);
    if (i === 0) throw changeError(`${what} names can not be blank`, change);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

function setEnv(cfg: ContainerConfig, key: string, value: string): void {
  const env = [...(cfg.Env ?? [])];
  const i = env.findIndex((kv) => kv === key || kv.startsWith(`${key}=`));
  if (i >= 0) env[i] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
  cfg.Env = env;
}

function exposedPorts(words: string[], change: string): string[] {
  const out: string[] = [];
  for (const w of words) {
    if (w.includes(':')) throw changeError(`EXPOSE does not support port mappings ("${w}"); publish ports at run time`, change);
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
    if (!m) throw changeError(`invalid port "${w}" in EXPOSE: expected PORT[-PORT][/tcp|udp|sctp]`, change);
    const start = Number(m[1]);
    const end = m[2] !== undefined ? Number(m[2]) : start;
    const proto = (m[3] ?? 'tcp').toLowerCase();
    if (start < 1 || end > 65535 || end < start) throw changeError(`invalid port range "${w}" in EXPOSE`, change);
    for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  }
  return out;
}

/**
 * Apply `docker commit -c` changes to a config and return a new config (the input is not modified).
 * As in Docker, ENTRYPOINT clears an inherited CMD unless a CMD came earlier in the same changes.
 * Throws INVALID_REQUEST naming the change for an unsupported instruction or bad argument.
 */
export function applyChanges(config: ImageConfig, changes: readonly string[]): ImageConfig {
  const out: ImageConfig = structuredClone(config);
  const cfg: ContainerConfig = (out.config ??= {});
  let cmdSet = false;
  for (const raw of changes) {
    const change = raw.trim();
    if (!change || change.startsWith('#')) continue;
    const space = change.search(/\s/);
    const word = space < 0 ? change : change.slice(0, space);
    const instruction = word.toUpperCase();
    const rest = space < 0 ? '' : change.slice(space).trim();
    const env = envMap(cfg.Env);
    const shellForm = (): string[] => [...(cfg.Shell?.length ? cfg.Shell : DEFAULT_SHELL), rest];
    switch (instruction) {
      case 'CMD':
        cfg.Cmd = jsonForm(rest) ?? shellForm();
        cmdSet = true;
        break;
      case 'ENTRYPOINT':
        cfg.Entrypoint = jsonForm(rest) ?? (rest ? shellForm() : []);
        if (!cmdSet) cfg.Cmd = null;
        break;
      case 'ENV':
        for (const [k, v] of keyValues(rest, env, 'ENV', change)) {
          setEnv(cfg, k, v);
          env.set(k, v);
        }
        break;
      case 'LABEL':
        cfg.Labels = { ...(cfg.Labels ?? {}) };
        for (const [k, v] of keyValues(rest, env, 'LABEL', change)) cfg.Labels[k] = v;
        break;
      case 'EXPOSE': {
        const words = splitWords(rest, env);
        if (!words.length) throw changeError('EXPOSE requires at least one argument', change);
        cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
        for (const p of exposedPorts(words, change)) cfg.ExposedPorts[p] = {};
        break;
      }
      case 'VOLUME': {
        const vols = jsonForm(rest) ?? splitWords(rest, env);
        if (!vols.length) throw changeError('VOLUME requires at least one argument', change);
        cfg.Volumes = { ...(cfg.Volumes ?? {}) };
        for (const v of vols) {
          if (!v.trim()) throw changeError('VOLUME specified can not be an empty string', change);
          cfg.Volumes[v.trim()] = {};
        }
        break;
      }
      case 'USER': {
        const user = splitWords(rest, env).join(' ');
        if (!user) throw changeError('USER requires exactly one argument', change);
        cfg.User = user;
        break;
      }
      case 'WORKDIR': {
        const dir = splitWords(rest, env).join(' ');
        if (!dir) throw changeError('WORKDIR requires exactly one argument', change);
        cfg.WorkingDir = posix.isAbsolute(dir) ? posix.normalize(dir) : posix.join('/', cfg.WorkingDir ?? '', dir);
        break;
      }
      case 'ONBUILD': {
        const trigger = /^\S+/.exec(rest)?.[0].toUpperCase();
        if (!trigger) throw changeError('ONBUILD requires at least one argument', change);
        if (trigger === 'ONBUILD') throw changeError('chaining ONBUILD via `ONBUILD ONBUILD` is not allowed', change);
        if (trigger === 'FROM' || trigger === 'MAINTAINER') throw changeError(`${trigger} is not allowed as an ONBUILD trigger`, change);
        cfg.OnBuild = [...(cfg.OnBuild ?? []), rest];
        break;
      }
      default:
        throw changeError(`${word} is not a valid change instruction: docker commit -c supports ${COMMIT_INSTRUCTIONS.join(', ')}`, change);
    }
  }
  return out;
}
