// The storage layout, written down in one place (as distribution's registry/storage/paths.go).
// Same keys on S3 and on the filesystem; modelled on distribution's so its buckets can be adopted.
//
//   blobs/sha256/<2 hex>/<hex>/data                                    blob bytes (content-addressed)
//   repositories/<name>/_layers/sha256/<hex>/link                      blob linked into a repository
//   repositories/<name>/_manifests/revisions/sha256/<hex>/link         manifest linked into a repository
//   repositories/<name>/_manifests/tags/<tag>/current/link             tag -> manifest digest
//   repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link  tag history: a digest the tag has named
//   repositories/<name>/_uploads/<id>/chunks/<offset>                  upload in progress, one object per chunk
//   repositories/<name>/_uploads/<id>/startedat                        upload start time (for purging)
//
// Times are the objects' modification times, not contents: a tag's current link and its index entry
// for a digest are rewritten on every tagging, so their times say when the tag was last set and when
// it last named that digest (reindex rebuilds tag times and history from them).
import { digestAlgorithm, digestHex, type Digest } from '@stevedore/oci';

function split(d: Digest): [string, string] {
  return [digestAlgorithm(d), digestHex(d)];
}

export const StorageLayout = {
  blobData(d: Digest): string {
    const [alg, hex] = split(d);
    return `blobs/${alg}/${hex.slice(0, 2)}/${hex}/data`;
  },
  blobsRoot: 'blobs/',
  repositoriesRoot: 'repositories/',
  repoRoot(name: string): string {
    return `repositories/${name}/`;
  },
  layerLink(name: string, d: Digest): string {
    const [alg, hex] = split(d);
    return `repositories/${name}/_layers/${alg}/${hex}/link`;
  },
  layersRoot(name: string): string {
    return `repositories/${name}/_layers/`;
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
  uploadRoot(name: string, id: string): string {
    return `repositories/${name}/_uploads/${id}/`;
  },
  uploadChunk(name: string, id: string, offset: number): string {
    return `repositories/${name}/_uploads/${id}/chunks/${String(offset).padStart(16, '0')}`;
  },
  uploadStartedAt(name: string, id: string): string {
    return `repositories/${name}/_uploads/${id}/startedat`;
  },
} as const;

/** Parse a key back (for reindex): which repository and kind a link belongs to. */
export function parseLinkKey(
  key: string,
):
  | { kind: 'layer'; name: string; digest: string }
  | { kind: 'revision'; name: string; digest: string }
  | { kind: 'tag'; name: string; tag: string }
  | { kind: 'tagIndex'; name: string; tag: string; digest: string }
  | undefined {
  let m = /^repositories\/(.+)\/_layers\/(sha256|sha512)\/([a-f0-9]+)\/link$/.exec(key);
  if (m) return { kind: 'layer', name: m[1], digest: `${m[2]}:${m[3]}` };
  m = /^repositories\/(.+)\/_manifests\/revisions\/(sha256|sha512)\/([a-f0-9]+)\/link$/.exec(key);
  if (m) return { kind: 'revision', name: m[1], digest: `${m[2]}:${m[3]}` };
  m = /^repositories\/(.+)\/_manifests\/tags\/([^/]+)\/current\/link$/.exec(key);
  if (m) return { kind: 'tag', name: m[1], tag: m[2] };
  m = /^repositories\/(.+)\/_manifests\/tags\/([^/]+)\/index\/(sha256|sha512)\/([a-f0-9]+)\/link$/.exec(key);
  if (m) return { kind: 'tagIndex', name: m[1], tag: m[2], digest: `${m[3]}:${m[4]}` };
  return undefined;
}
