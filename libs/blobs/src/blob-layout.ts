// The layer-storage service's keyspace, written down in one place (as distribution's
// registry/storage/paths.go): every storage path and Redis key it owns is built here and nowhere
// else, and the parsers that read paths back (reindex, upload purging) sit beside their builders.
//
// Storage (distribution's tree, so its buckets can be adopted; same keys on S3 and the filesystem):
//
//   blobs/
//     <alg>/<2 hex>/<hex>/data                      blob bytes (content-addressed; also manifest bytes, kept by storeContent)
//   repositories/<name>/
//     _layers/<alg>/<hex>/link                      blob linked into a repository (contents: the digest)
//     _uploads/<id>/
//       chunks/<offset, 16 digits>                  upload in progress, one object per chunk
//       startedat                                   upload start (for purging)
//
// (repositories/<name>/_manifests/ belongs to metadata.)
//
// Redis (an index of storage, rebuilt by reindex; <p> is STEVEDORE_REDIS_PREFIX):
//
//   <p>:blob:<digest>                 hash {size}: the blob exists
//   <p>:repo:{<name>}:layers          set of digests linked into the repository
//   <p>:upload:<id>                   JSON upload session (name, offset, chunks, startedAt)
//   <p>:<family>:touched:<digest>     DigestGuard: last reference time (ms, Redis clock)
//   <p>:<family>:writing:<digest>     DigestGuard: writers in flight (count, expires)
//   <p>:<family>:sweeping:<digest>    DigestGuard: a GC sweep's lease
//
// <family> is `gc` for registry blobs and manifests, `containers-gc` for container contents.
//
// Redis Cluster (redis+cluster://): every <digest> above except in layers is a hash tag, `{<digest>}`
// (blob:{<d>}, gc:touched:{<d>}, …), so a digest's record and its guard keys share one slot and each
// GC script over one digest is single-slot; a repository's layers set is in its {<name>} slot, and
// unlinking a digest from repositories runs per repository after the digest's lease is taken
// (blob-sweeper.ts). One Redis keeps the untagged names of existing deployments.
import { digestAlgorithm, digestHex, type Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';

function split(d: Digest): [string, string] {
  return [digestAlgorithm(d), digestHex(d)];
}

const BLOB_DATA = /^blobs\/(sha256|sha512)\/[a-f0-9]{2}\/([a-f0-9]+)\/data$/;
const LAYER_LINK = /^repositories\/(.+)\/_layers\/(sha256|sha512)\/([a-f0-9]+)\/link$/;
const UPLOAD_OBJECT = /^(repositories\/(.+)\/_uploads\/([^/]+)\/)(.*)$/;
/** Upload ids are randomUUID()s; anything else is refused before Redis is asked. */
const UPLOAD_ID = /^[a-f0-9-]{36}$/;

export const blobPaths = {
  blobsRoot: 'blobs/',
  /** Links and uploads live under every repository; reindex and purging list from here. */
  repositoriesRoot: 'repositories/',
  blobData(d: Digest): string {
    const [alg, hex] = split(d);
    return `blobs/${alg}/${hex.slice(0, 2)}/${hex}/data`;
  },
  /** Where one repository's layer links are listed from (the consistency pass). */
  layersRoot(name: string): string {
    return `repositories/${name}/_layers/`;
  },
  layerLink(name: string, d: Digest): string {
    const [alg, hex] = split(d);
    return `repositories/${name}/_layers/${alg}/${hex}/link`;
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

  /** The digest whose bytes `path` holds, or undefined for any other path. */
  parseBlobData(path: string): Digest | undefined {
    const m = BLOB_DATA.exec(path);
    return m ? (`${m[1]}:${m[2]}` as Digest) : undefined;
  },
  /** The repository and digest of a layer link, or undefined for any other path. */
  parseLayerLink(path: string): { name: string; digest: Digest } | undefined {
    const m = LAYER_LINK.exec(path);
    return m ? { name: m[1], digest: `${m[2]}:${m[3]}` as Digest } : undefined;
  },
  /** The upload folder an object belongs to (its id, and whether it is the start stamp), or undefined. */
  parseUploadObject(path: string): { folder: string; id: string; startedAt: boolean } | undefined {
    const m = UPLOAD_OBJECT.exec(path);
    return m ? { folder: m[1], id: m[3], startedAt: m[4] === 'startedat' } : undefined;
  },
  isUploadId(id: string): boolean {
    return UPLOAD_ID.test(id);
  },
} as const;

export function blobKeys(keys: RedisKeys) {
  return {
    // On a cluster the digest is a hash tag: the record shares the slot of DigestGuard's keys of the
    // digest, so GC's scripts over them (DROP_CONTENT, SWEEP's lease) are one slot.
    blob: (digest: string) => keys.key('blob', keys.tag(digest)),
    /** SCAN pattern of every blob entry. */
    blobPattern: keys.key('blob', '*'),
    /** The digest of a key blobPattern matched. */
    blobDigestOf: (key: string) => keys.untag(key.slice(keys.key('blob', '').length)),
    layers: (name: string) => keys.repo(name, 'layers'),
    upload: (id: string) => keys.key('upload', id),
    /** SCAN pattern of every upload session, and the prefix to strip from a match. */
    uploadPattern: keys.key('upload', '*'),
    uploadPrefix: keys.key('upload', ''),
  };
}

export type BlobKeys = ReturnType<typeof blobKeys>;

export function digestGuardKeys(keys: RedisKeys, family: string) {
  return {
    touched: (digest: string) => keys.key(family, 'touched', keys.tag(digest)),
    writing: (digest: string) => keys.key(family, 'writing', keys.tag(digest)),
    sweeping: (digest: string) => keys.key(family, 'sweeping', keys.tag(digest)),
  };
}
