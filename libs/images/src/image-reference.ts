// The mapping between this registry's repositories (parsed by libs/oci parseLocalReference) and
// the Docker-style names a `docker save` archive carries (`music51555/bh:latest`, `busybox:1`).
import { DEFAULT_REGISTRY, familiarName, parseReference, repositoryNameOk, type LocalReference, type Reference } from '@stevedore/oci';

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
export function imageRefFromArchiveName(text: string): (LocalReference & { tag: string }) | undefined {
  let ref: Reference;
  try {
    ref = parseReference(text);
  } catch {
    return undefined;
  }
  if (ref.tag === undefined) return undefined;
  return { name: repositoryForArchiveName(ref), tag: ref.tag };
}
