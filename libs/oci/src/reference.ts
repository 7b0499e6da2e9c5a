// Image references, parsed once into typed values with Docker's defaults (as distribution/reference
// and go-containerregistry's pkg/name do), so code past the parser never handles raw strings.
import { RegistryError } from './errors';
import { isDigest, parseDigest, type Digest } from './digest';

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';
/** Docker's official-images namespace, implied for single-component names on docker.io. */
export const OFFICIAL_NAMESPACE = 'library';
/** distribution/reference's NameTotalLengthMax: registry + '/' + repository. */
export const NAME_TOTAL_LENGTH_MAX = 255;
export const TAG_LENGTH_MAX = 128;

/** A normalised reference: `registry/repository[:tag][@digest]`. */
export interface Reference {
  /** Host with optional port, e.g. `docker.io`, `localhost:5000`. */
  readonly registry: string;
  /** Path inside the registry, e.g. `library/busybox`. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const HEX64_RE = /^[a-f0-9]{64}$/;

function nameInvalid(message: string, name: string): RegistryError {
  return new RegistryError('NAME_INVALID', message, { name: name.slice(0, 300) });
}

/**
 * Throws NAME_INVALID unless `name` is a repository path of the distribution spec (lowercase
 * components separated by `/`, at most 255 characters). Returns true so it reads as a guard.
 */
export function isValidRepositoryName(name: string): true {
  if (typeof name !== 'string' || name.length === 0) throw nameInvalid('repository name must not be empty', String(name));
  if (name.length > NAME_TOTAL_LENGTH_MAX)
    throw nameInvalid(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`, name);
  if (!REPOSITORY_RE.test(name)) {
    const hint = name !== name.toLowerCase() ? ': repository name must be lowercase' : '';
    throw nameInvalid(`invalid repository name "${name.slice(0, 300)}"${hint}`, name);
  }
  return true;
}

/** Same check as isValidRepositoryName, named as an assertion for call sites that read better so. */
export function assertRepositoryName(name: string): void {
  isValidRepositoryName(name);
}

/** Throws TAG_INVALID unless `tag` matches `[\w][\w.-]{0,127}`. Returns true so it reads as a guard. */
export function isValidTag(tag: string): true {
  if (typeof tag !== 'string' || !TAG_RE.test(tag)) {
    throw new RegistryError('TAG_INVALID', `invalid tag "${String(tag).slice(0, 160)}": must match [\\w][\\w.-]{0,127}`, {
      tag: String(tag).slice(0, 160),
    });
  }
  return true;
}

/** Non-throwing forms, for filters and UI validation. */
export function repositoryNameOk(name: string): boolean {
  return typeof name === 'string' && name.length > 0 && name.length <= NAME_TOTAL_LENGTH_MAX && REPOSITORY_RE.test(name);
}
export function tagOk(tag: string): boolean {
  return typeof tag === 'string' && TAG_RE.test(tag);
}

export interface ParseReferenceOptions {
  /** Add `latest` when neither tag nor digest is given (Docker's behaviour for pull/tag). Default true. */
  defaultTag?: boolean;
  /** Registry for names without one. Default `docker.io`. */
  defaultRegistry?: string;
}

/**
 * The name part, tag and digest of a reference: the digest follows '@'; a tag follows the last ':'
 * that comes after the last '/', so a registry port is not a tag. Both grammars below share it.
 */
function splitTagAndDigest(input: string): { rest: string; tag?: string; digest?: Digest } {
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) {
      throw new RegistryError('DIGEST_INVALID', `invalid digest "${d.slice(0, 160)}" in reference`, { reference: input.slice(0, 300) });
    }
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    isValidTag(tag);
  }
  return { rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * A reference to a repository of this registry, as the management API takes it
 * (`music51555/bh:v0.2`, `quay.io/x/y@sha256:...`): no registry part and no Docker defaults, since
 * a local repository name may itself start with a host (a pull-through cache of quay.io).
 */
export interface LocalReference {
  /** Repository in this registry, e.g. `music51555/bh`. */
  name: string;
  tag?: string;
  digest?: Digest;
}

export interface ParseLocalReferenceOptions {
  /** Add `latest` when neither tag nor digest is given (as `docker tag` does). Default false. */
  defaultTag?: boolean;
}

/** Parse `repo[:tag][@digest]`; NAME_INVALID / TAG_INVALID / DIGEST_INVALID otherwise. */
export function parseLocalReference(input: string, options: ParseLocalReferenceOptions = {}): LocalReference {
  if (typeof input !== 'string' || !input)
    throw new RegistryError('NAME_INVALID', 'image reference must not be empty', { reference: input });
  const { rest, tag, digest } = splitTagAndDigest(input);
  isValidRepositoryName(rest);
  const ref: LocalReference = { name: rest };
  if (tag !== undefined) ref.tag = tag;
  else if (digest === undefined && options.defaultTag) ref.tag = DEFAULT_TAG;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/**
 * A manifest of repository `name` by the reference a URL gives (`/v2/<name>/manifests/<reference>`):
 * a digest when it has a ':' (DIGEST_INVALID if it is not a valid one), else a tag (TAG_INVALID).
 * Where the raw pair enters, it becomes this typed value; services take nothing else.
 */
export function manifestReference(name: string, reference: string): LocalReference & ({ tag: string } | { digest: Digest }) {
  if (reference.includes(':')) return { name, digest: parseDigest(reference) };
  isValidTag(reference);
  return { name, tag: reference };
}

/** What names the manifest of a reference: its digest, else its tag; INVALID_REQUEST with neither. */
export function referenceOf(ref: LocalReference): string {
  const r = ref.digest ?? ref.tag;
  if (r === undefined) throw new RegistryError('INVALID_REQUEST', `${ref.name}: name a tag or a digest`, { name: ref.name });
  return r;
}

export function formatLocalReference(ref: LocalReference): string {
  return ref.name + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/**
 * Parse `[registry[:port]/]path[:tag][@digest]` as Docker does: the first component is a registry
 * only when it contains `.` or `:` or is `localhost` (and has no uppercase); `index.docker.io`
 * becomes `docker.io`; single-component docker.io names get `library/`.
 */
export function parseReference(input: string, options: ParseReferenceOptions = {}): Reference {
  if (typeof input !== 'string' || input.length === 0) throw nameInvalid('reference must not be empty', String(input));
  const defaultRegistry = options.defaultRegistry ?? DEFAULT_REGISTRY;
  const { rest, tag: givenTag, digest } = splitTagAndDigest(input);
  let tag = givenTag;
  const slash = rest.indexOf('/');
  let registry: string;
  let repository: string;
  const first = slash < 0 ? '' : rest.slice(0, slash);
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    registry = defaultRegistry;
    repository = rest;
  } else {
    registry = first;
    repository = rest.slice(slash + 1);
  }
  if (!DOMAIN_RE.test(registry)) throw nameInvalid(`invalid registry "${registry}" in reference`, input);
  if (registry === 'index.docker.io') registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) {
    if (HEX64_RE.test(repository)) throw nameInvalid('invalid repository name: cannot specify 64-byte hexadecimal strings', input);
    repository = `${OFFICIAL_NAMESPACE}/${repository}`;
  }
  isValidRepositoryName(repository);
  if (registry.length + 1 + repository.length > NAME_TOTAL_LENGTH_MAX) {
    throw nameInvalid(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`, input);
  }
  if (tag === undefined && digest === undefined && options.defaultTag !== false) tag = DEFAULT_TAG;
  const ref: { registry: string; repository: string; tag?: string; digest?: Digest } = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** `docker.io/library/busybox`: the full name without tag or digest. */
export function fullName(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** `busybox`, `user/app`, `quay.io/x/y`: the name as `docker images` shows it. */
export function familiarName(ref: Reference): string {
  if (ref.registry !== DEFAULT_REGISTRY) return fullName(ref);
  const prefix = `${OFFICIAL_NAMESPACE}/`;
  if (ref.repository.startsWith(prefix) && !ref.repository.slice(prefix.length).includes('/')) return ref.repository.slice(prefix.length);
  // Docker would render docker.io/a.b/c as `a.b/c`, which then parses as registry a.b; keep the
  // registry whenever the first component would be read as one, so rendering round-trips.
  const first = ref.repository.split('/')[0];
  if (ref.repository.includes('/') && (first.includes('.') || first === 'localhost')) return fullName(ref);
  return ref.repository;
}

function suffix(ref: Reference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** Familiar rendering: `busybox:latest`, `quay.io/x/y@sha256:...`. */
export function familiarString(ref: Reference): string {
  return familiarName(ref) + suffix(ref);
}

/** Fully qualified rendering: `docker.io/library/busybox:latest`. */
export function referenceString(ref: Reference): string {
  return fullName(ref) + suffix(ref);
}

/** The same reference with a different (or no) tag and no digest. */
export function withTag(ref: Reference, tag: string): Reference {
  isValidTag(tag);
  return { registry: ref.registry, repository: ref.repository, tag };
}
