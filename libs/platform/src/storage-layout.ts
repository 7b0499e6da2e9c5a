// The storage layout of manifests and tags, written down in one place (as distribution's
// registry/storage/paths.go). Same keys on S3 and on the filesystem; modelled on distribution's so
// its buckets can be adopted. Blob bytes, layer links and uploads (blobs/..., _layers, _uploads)
// belong to layer storage and are drawn in libs/blobs/src/blob-layout.ts.
//
//   repositories/<name>/_manifests/revisions/sha256/<hex>/link         manifest linked into a repository
//   repositories/<name>/_manifests/tags/<tag>/current/link             tag -> manifest digest
//   repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link  tag history: a digest the tag has named
//
// Times are the objects' modification times, not contents: a tag's current link and its index entry
// for a digest are rewritten on every tagging, so their times say when the tag was last set and when
// it last named that digest (reindex rebuilds tag times and history from them).
import { digestAlgorithm, digestHex, type Digest } from '@stevedore/oci';

function split(d: Digest): [string, string] {
  return [digestAlgorithm(d), digestHex(d)];
}

export const StorageLayout = {
  repositoriesRoot: 'repositories/',
  repoRoot(name: string): string {
    return `repositories/${name}/`;
  },
  revisionLink(name: string, d: Digest): string {
    const [alg, hex] = split(d);
    return `repositories/${name}/_manifests/revisions/${alg}/${hex}/link`;
  },
  revisionsRoot(name: string): string {
    return `repositories/${name}/_manifests/revisions/`;
  },
  tagCurrent(name: string, tag: string): string {
    return `repositories/${name}/_manifests/tags/${tag}/current/link`;
  },
  tagIndexEntry(name: string, tag: string, d: Digest): string {
    const [alg, hex] = split(d);
    return `repositories/${name}/_manifests/tags/${tag}/index/${alg}/${hex}/link`;
  },
  tagRoot(name: string, tag: string): string {
    return `repositories/${name}/_manifests/tags/${tag}/`;
  },
  tagsRoot(name: string): string {
    return `repositories/${name}/_manifests/tags/`;
  },
} as const;

/** Parse a key back (for metadata's reindex): which repository and kind a manifest or tag link belongs to. */
export function parseLinkKey(
  key: string,
):
  | { kind: 'revision'; name: string; digest: string }
  | { kind: 'tag'; name: string; tag: string }
  | { kind: 'tagIndex'; name: string; tag: string; digest: string }
  | undefined {
  let m = /^repositories\/(.+)\/_manifests\/revisions\/(sha256|sha512)\/([a-f0-9]+)\/link$/.exec(key);
  if (m) return { kind: 'revision', name: m[1], digest: `${m[2]}:${m[3]}` };
  m = /^repositories\/(.+)\/_manifests\/tags\/([^/]+)\/current\/link$/.exec(key);
  if (m) return { kind: 'tag', name: m[1], tag: m[2] };
  m = /^repositories\/(.+)\/_manifests\/tags\/([^/]+)\/index\/(sha256|sha512)\/([a-f0-9]+)\/link$/.exec(key);
  if (m) return { kind: 'tagIndex', name: m[1], tag: m[2], digest: `${m[3]}:${m[4]}` };
  return undefined;
}
