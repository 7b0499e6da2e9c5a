// Pure argument handling: Docker's option spellings, image references as this platform names them,
// `NAME:PATH` copy targets and server addresses.
import path from 'node:path';
import { isDigest, repositoryNameOk, tagOk } from '@stevedore/oci';
import { CliError } from './errors';

/**
 * Docker writes boolean flags as `--pause=false`; commander only knows `--pause` / `--no-pause`.
 * Rewrites `--flag=true|false` for the given boolean flags before parsing (stops at `--`).
 */
export function normalizeBooleanFlags(argv: string[], flags: string[]): string[] {
  const out: string[] = [];
  let done = false;
  for (const a of argv) {
    if (done || a === '--') {
      done = true;
      out.push(a);
      continue;
    }
    const m = /^--([\w-]+)=(true|false|1|0)$/i.exec(a);
    if (m && flags.includes(m[1])) out.push(/^(true|1)$/i.test(m[2]) ? `--${m[1]}` : `--no-${m[1]}`);
    else out.push(a);
  }
  return out;
}

/** The Dockerfile instructions `docker commit -c` / `docker import -c` accept. */
export const CHANGE_INSTRUCTIONS = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR'] as const;

/** Commander's collector for a repeatable `-c`: checks the instruction early so a typo fails before any upload. */
export function collectChange(value: string, previous: string[] = []): string[] {
  const trimmed = value.trim();
  const keyword = trimmed.split(/\s+/, 1)[0]?.toUpperCase() ?? '';
  if (!(CHANGE_INSTRUCTIONS as readonly string[]).includes(keyword)) {
    throw new CliError(
      `invalid change "${value}": the instruction must be one of ${CHANGE_INSTRUCTIONS.join(', ')}`,
      'INVALID_CHANGE',
      'for example -c \'CMD ["/bin/sh"]\'',
    );
  }
  if (trimmed.length === keyword.length) throw new CliError(`invalid change "${value}": ${keyword} needs an argument`, 'INVALID_CHANGE');
  return [...previous, trimmed];
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export interface LocalRef {
  /** Repository in this registry, e.g. `music51555/bh`. */
  name: string;
  tag?: string;
  digest?: string;
}

/**
 * Parses `NAME[:TAG][@DIGEST]` as the platform's API takes it. A leading `host:port/` equal to
 * the platform's own address is dropped (`127.0.0.1:5000/team/app:v1` is `team/app:v1` here).
 */
export function parseLocalRef(input: string, serverKey?: string, options: { defaultTag?: boolean } = {}): LocalRef {
  if (!input) throw new CliError('image reference must not be empty', 'NAME_INVALID');
  let rest = input;
  if (serverKey && rest.startsWith(serverKey + '/')) rest = rest.slice(serverKey.length + 1);
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw new CliError(`invalid digest "${digest}" in reference "${input}"`, 'DIGEST_INVALID');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagOk(tag))
      throw new CliError(`invalid tag "${tag}" in reference "${input}"`, 'TAG_INVALID', 'a tag is up to 128 letters, digits, _, . and -');
  }
  if (!repositoryNameOk(rest)) {
    throw new CliError(
      `invalid reference "${input}": repository names are lowercase path components (a-z, 0-9, ., _, -) separated by /`,
      'NAME_INVALID',
    );
  }
  if (!tag && !digest && options.defaultTag) tag = 'latest';
  const ref: LocalRef = { name: rest };
  if (tag) ref.tag = tag;
  if (digest) ref.digest = digest;
  return ref;
}

export function formatLocalRef(r: LocalRef): string {
  return r.name + (r.tag ? `:${r.tag}` : '') + (r.digest ? `@${r.digest}` : '');
}

/** Docker lets an image be named by (a prefix of) its ID: `87f8dd508d21` or `sha256:87f8...`. */
export function looksLikeImageId(input: string): boolean {
  return /^(sha256:)?[0-9a-f]{12,64}$/.test(input);
}

export interface CopyEndpoint {
  container?: string;
  path: string;
}

/** `NAME:PATH` names a path in a container; anything else (including `./a:b` and `/x:y`) is local. */
export function parseCopyEndpoint(arg: string): CopyEndpoint {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  const container = arg.slice(0, i);
  // A Windows drive letter (C:\...) is local.
  if (/^[A-Za-z]$/.test(container) && /^[\\/]/.test(arg.slice(i + 1))) return { path: arg };
  const path = arg.slice(i + 1);
  if (!path) throw new CliError(`no path after "${container}:"`, 'INVALID_ARGUMENT', 'write NAME:/path/in/container');
  return { container, path };
}

export interface Server {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:5000`. */
  url: string;
  /** Key under `auths` in config.json: `host:port`, as Docker writes it. */
  key: string;
}

/**
 * `--host` / `STEVEDORE_HOST` / `login SERVER`: a URL, or `host[:port]` (http for localhost and
 * loopback addresses, as Docker treats them as insecure registries; https otherwise).
 */
export function parseServer(input: string): Server {
  let text = input.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    const host = text.split('/')[0].replace(/:\d+$/, '');
    const local = host === 'localhost' || /^127\./.test(host) || host === '[::1]' || host === '0.0.0.0';
    text = `${local ? 'http' : 'https'}://${text}`;
  }
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new CliError(`invalid server address "${input}"`, 'INVALID_ARGUMENT', 'use http://host:port');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new CliError(`unsupported scheme in "${input}"`, 'INVALID_ARGUMENT', 'use http:// or https://');
  if (u.username || u.password) throw new CliError('put credentials in `stevedore login`, not in the server address', 'INVALID_ARGUMENT');
  const base = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  return { url: base, key: u.host };
}

export const DEFAULT_HOST = 'http://127.0.0.1:5000';

/** `--gzip`, or an output file ending in .gz / .tgz. */
export type ArchiveCompression = 'none' | 'gzip' | 'zstd';

const SUFFIXES: Array<[RegExp, ArchiveCompression]> = [
  [/\.t?gz$/i, 'gzip'],
  [/\.t?zst$/i, 'zstd'],
  [/\.tar$/i, 'none'],
];

/**
 * How `save` compresses: by FILE's suffix (.gz/.tgz gzip, .zst/.tzst zstd, .tar or none plain) or
 * as --compress (or --gzip) says. Another suffix needs --compress; a suffix that --compress
 * contradicts is refused, as is an unknown --compress.
 */
export function saveCompression(file: string | undefined, o: { compress?: string; gzip?: boolean } = {}): ArchiveCompression {
  let asked: ArchiveCompression | undefined;
  if (o.compress !== undefined) {
    if (!['none', 'gzip', 'zstd'].includes(o.compress))
      throw new CliError(`--compress must be none, gzip or zstd, not "${o.compress}"`, 'INVALID_ARGUMENT');
    asked = o.compress as ArchiveCompression;
  }
  if (o.gzip) {
    if (asked && asked !== 'gzip') throw new CliError(`--gzip contradicts --compress ${asked}`, 'INVALID_ARGUMENT');
    asked = 'gzip';
  }
  if (!file) return asked ?? 'none';
  const base = path.basename(file);
  const bySuffix = SUFFIXES.find(([re]) => re.test(base))?.[1] ?? (base.includes('.') ? undefined : 'none');
  if (asked) {
    if (bySuffix && bySuffix !== asked && path.extname(base).toLowerCase() !== '.tar')
      throw new CliError(
        `${base} names ${bySuffix} compression but ${asked} was asked for`,
        'INVALID_ARGUMENT',
        'change the file name or the option',
      );
    return asked;
  }
  if (!bySuffix)
    throw new CliError(
      `cannot tell the compression from ${base}`,
      'INVALID_ARGUMENT',
      'end the file name in .tar, .gz, .tgz, .zst or .tzst, or give --compress none|gzip|zstd',
    );
  return bySuffix;
}
