// References as the management API takes them: names of this registry's repositories
// (`music51555/bh:v0.2`, `team/app@sha256:...`), and the mapping between those repositories and
// the Docker-style names a `docker save` archive carries (`music51555/bh:latest`, `busybox:1`).
import {
  DEFAULT_REGISTRY,
  RegistryError,
  familiarName,
  isDigest,
  isValidRepositoryName,
  isValidTag,
  parseReference,
  repositoryNameOk,
  type Digest,
  type Reference,
} from '@stevedore/oci';

export interface ImageRef {
  /** Repository in this registry, e.g. `music51555/bh`. */
  name: string;
  tag?: string;
  digest?: Digest;
}

export interface ParseImageRefOptions {
  /** Add `latest` when neither tag nor digest is given (as `docker tag` does). Default false. */
  defaultTag?: boolean;
}

/**
 * Parse `repo[:tag][@digest]`. Repository names of this registry never contain `:`, so the text
 * after the last `:` past the last `/` is the tag. Throws NAME_INVALID / TAG_INVALID / DIGEST_INVALID.
 */
export function parseImageRef(input: string, options: ParseImageRefOptions = {}): ImageRef {
  if (typeof input !== 'string' || !input) throw new RegistryError('NAME_INVALID', 'image reference must not be empty', { reference: input });
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw new RegistryError('DIGEST_INVALID', `invalid digest "${d.slice(0, 160)}" in reference`, { reference: input.slice(0, 300) });
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
  isValidRepositoryName(rest);
  if (tag === undefined && digest === undefined && options.defaultTag) tag = 'latest';
  const ref: ImageRef = { name: rest };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

export function formatImageRef(ref: ImageRef): string {
  return ref.name + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/**
 * The name written into an archive for a repository of this registry: Docker's familiar form, so
 * `docker load` of the file gives `music51555/bh:latest`, and reading it back gives the same repository.
 */
export function archiveTagFor(name: string, tag: string): string {
  return `${name}:${tag}`;
}

/**
 * The repository of this registry an archive name lands in: docker.io names keep their familiar
 * form (`busybox`, `music51555/bh`), other registries keep their host (`quay.io/x/y`) where that is
 * a valid repository name, else only the path (`localhost:5000/app` becomes `app`).
 */
export function repositoryForArchiveName(ref: Reference): string {
  if (ref.registry === DEFAULT_REGISTRY) return familiarName(ref);
  const withHost = `${ref.registry}/${ref.repository}`;
  return repositoryNameOk(withHost) ? withHost : ref.repository;
}

/** An archive's RepoTags entry (or OCI name annotation) as a repository and tag of this registry. */
export function imageRefFromArchiveName(text: string): (ImageRef & { tag: string }) | undefined {
  let ref: Reference;
  try {
    ref = parseReference(text);
  } catch {
    return undefined;
  }
  if (ref.tag === undefined) return undefined;
  return { name: repositoryForArchiveName(ref), tag: ref.tag };
}
