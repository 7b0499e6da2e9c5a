// The metadata service's keyspace, written down in one place (as distribution's
// registry/storage/paths.go): every storage path and Redis key metadata reads or writes is built
// here and nowhere else. Storage (distribution's tree, so its buckets can be adopted; the same keys
// on S3 and on the filesystem):
//
//   repositories/<name>/                                   shared with layer storage (its _layers, _uploads)
//   └── _manifests/                                        metadata's part of a repository
//       ├── revisions/<alg>/<hex>/link                     manifest linked into the repository
//       └── tags/<tag>/
//           ├── current/link                               tag -> manifest digest (mtime: tag time)
//           └── index/<alg>/<hex>/link                     a digest the tag has named (mtime: when)
//   blobs/<alg>/<2 hex>/<hex>/data                         manifest bytes: layer storage's keyspace, written
//                                                          and read only through BlobService.storeContent/readContent
//
// Times are the links' modification times, not contents: a tag's current link and its index entry
// for a digest are rewritten on every tagging, so their times say when the tag was last set and when
// it last named that digest (reindex rebuilds tag times and history from them).
//
// Redis (an index of storage, rebuilt by reindex; <p> is STEVEDORE_REDIS_PREFIX):
//
//   <p>:manifest:<digest>                      hash {mediaType, bytes} (cluster: manifest:{<digest>})
//   <p>:catalog                                zset of repository names (score 0: lexical order)
//   <p>:repo:{<name>}:revisions                set of manifest digests in the repository
//   <p>:repo:{<name>}:tags                     hash tag -> digest
//   <p>:repo:{<name>}:tagnames                 zset of tags (score 0: lexical order, for /tags/list)
//   <p>:repo:{<name>}:tagtimes                 hash tag -> ms it was last set
//   <p>:repo:{<name>}:taghist:<tag>            zset digest -> ms the tag last named it
//   <p>:repo:{<name>}:referrers:<subject>      hash referrer digest -> descriptor JSON
//   <p>:repos:pushed                           zset repository -> ms of its last tagging (reindex: tag times)
//   <p>:repos:pulls                            zset repository -> manifest GETs counted (Redis only: a
//                                              counter, not a fact of storage; lost with Redis)
//   <p>:imageids                               zset of image IDs (score 0: lexical order, for prefix lookup)
//                                              (cluster: <p>:{imageids})
//   <p>:imageid:<id>                           set of `<name>@<manifest digest>` holding image <id>
//                                              (cluster: <p>:imageid:{imageids}:<id>, the zset's slot)
//   <p>:indexed:imageids                       set once the two above cover every revision (reindex, or
//                                              a backfill from the revisions on the first lookup)
//
// Redis Cluster (STEVEDORE: redis+cluster://): a MULTI or script keeps to one hash slot. A
// repository's keys share {<name>}; a digest's record and DigestGuard keys share {<digest>}; the
// image-ID index shares {imageids}; catalog, repos:pushed and repos:pulls are one slot each. What
// spans them (indexing a manifest, GC's removal of untagged ones) runs as ordered per-slot steps:
// manifest-repository.ts says why each order is safe. One Redis keeps the untagged names (no {}
// around digests or imageids), so existing deployments keep their index.
//
// An image ID is Docker's: the config digest of an image manifest (image-id-repository.ts). Both
// image-ID keys are written in the MULTI that indexes the manifest and dropped with its revision; an
// ID stays in the zset exactly while its holder set is not empty.
//
// The DigestGuard keys (<p>:gc:touched|writing|sweeping:<digest>) that hold manifests from GC are
// layer storage's (libs/blobs blob-layout.ts): one guard covers blobs and manifests alike.
import { digestAlgorithm, digestHex, type Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';

export function metadataKeys(keys: RedisKeys) {
  return {
    // On a cluster the digest is a hash tag: the record shares the slot of DigestGuard's keys of the
    // digest (blob-layout.ts), so GC's PURGE over them is one slot.
    manifest: (digest: string) => keys.key('manifest', keys.tag(digest)),
    /** SCAN pattern of every manifest record. */
    manifestPattern: keys.key('manifest', '*'),
    /** The digest of a key manifestPattern matched. */
    manifestDigestOf: (key: string) => keys.untag(key.slice(keys.key('manifest', '').length)),
    catalog: () => keys.key('catalog'),
    revisions: (name: string) => keys.repo(name, 'revisions'),
    tags: (name: string) => keys.repo(name, 'tags'),
    tagNames: (name: string) => keys.repo(name, 'tagnames'),
    tagTimes: (name: string) => keys.repo(name, 'tagtimes'),
    /**
     * ZSET of the digests a tag has named, each once, scored by when it last named it (ms). Not the
     * older `taghistory` LIST (one entry per tagging, repeats allowed): a new name, so a LIST left by
     * an older version is never read as the ZSET (WRONGTYPE); reindex rebuilds this one from storage.
     */
    tagHistory: (name: string, tag: string) => keys.repo(name, 'taghist', tag),
    referrers: (name: string, subject: string) => keys.repo(name, 'referrers', subject),
    // One key each across repositories (never in a repository's MULTI, whose keys share its slot).
    reposPushed: () => keys.key('repos', 'pushed'),
    reposPulls: () => keys.key('repos', 'pulls'),
    // On a cluster both image-ID keys carry the hash tag {imageids}: one index in one slot, so UNHOLD
    // and the MULTI that adds a holder stay atomic over the holder set and the ID set.
    imageIds: () => keys.key(keys.tag('imageids')),
    imageHolders: (id: string) => (keys.cluster ? keys.key('imageid', '{imageids}', id) : keys.key('imageid', id)),
    imageIdsIndexed: () => keys.key('indexed', 'imageids'),
    /** SCAN pattern of every key of every repository (the consistency pass finds repositories by it). */
    repositoryKeysPattern: keys.repo('*', '*'),
    /** The repository a key of repositoryKeysPattern belongs to. */
    repositoryOfKey: (key: string): string | undefined => {
      const head = keys.repo('');
      const at = key.startsWith(head.slice(0, -1)) ? key.indexOf('}:', head.length - 1) : -1;
      return at < 0 ? undefined : key.slice(head.length - 1, at);
    },
  };
}

export type MetadataKeys = ReturnType<typeof metadataKeys>;

function split(d: Digest): [string, string] {
  return [digestAlgorithm(d), digestHex(d)];
}

export const metadataPaths = {
  /** Where reindex lists from: every repository's links, layer storage's among them (parseMetadataLink skips those). */
  repositoriesRoot: 'repositories/',
  /** One repository's part (the consistency pass lists it; reindex lists repositoriesRoot whole). */
  manifestsRoot(name: string): string {
    return `repositories/${name}/_manifests/`;
  },
  revisionLink(name: string, d: Digest): string {
    const [alg, hex] = split(d);
    return `repositories/${name}/_manifests/revisions/${alg}/${hex}/link`;
  },
  tagCurrent(name: string, tag: string): string {
    return `repositories/${name}/_manifests/tags/${tag}/current/link`;
  },
  tagIndexEntry(name: string, tag: string, d: Digest): string {
    const [alg, hex] = split(d);
    return `repositories/${name}/_manifests/tags/${tag}/index/${alg}/${hex}/link`;
  },
} as const;

export type MetadataLink =
  | { kind: 'revision'; name: string; digest: Digest }
  | { kind: 'tag'; name: string; tag: string }
  | { kind: 'tagIndex'; name: string; tag: string; digest: Digest };

const REVISION = /^repositories\/(.+)\/_manifests\/revisions\/(sha256|sha512)\/([a-f0-9]+)\/link$/;
const TAG_CURRENT = /^repositories\/(.+)\/_manifests\/tags\/([^/]+)\/current\/link$/;
const TAG_INDEX = /^repositories\/(.+)\/_manifests\/tags\/([^/]+)\/index\/(sha256|sha512)\/([a-f0-9]+)\/link$/;

/** A storage path back to the metadata link it is (for reindex); undefined for any other object. */
export function parseMetadataLink(path: string): MetadataLink | undefined {
  let m = REVISION.exec(path);
  if (m) return { kind: 'revision', name: m[1], digest: `${m[2]}:${m[3]}` as Digest };
  m = TAG_CURRENT.exec(path);
  if (m) return { kind: 'tag', name: m[1], tag: m[2] };
  m = TAG_INDEX.exec(path);
  if (m) return { kind: 'tagIndex', name: m[1], tag: m[2], digest: `${m[3]}:${m[4]}` as Digest };
  return undefined;
}
