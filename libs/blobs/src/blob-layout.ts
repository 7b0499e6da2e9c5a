// The layer-storage service's keyspace, written down in one place. Storage (distribution's tree;
// the paths are StorageLayout in libs/platform, shared with metadata because both live under
// repositories/<name>/):
//
//   blobs/<alg>/<2 hex>/<hex>/data                       blob bytes (content-addressed)
//   repositories/<name>/_layers/<alg>/<hex>/link         blob linked into a repository
//   repositories/<name>/_uploads/<id>/chunks/<offset>    upload in progress, one object per chunk
//   repositories/<name>/_uploads/<id>/startedat          upload start (for purging)
//
// Redis (an index of storage, rebuilt by reindex; <p> is STEVEDORE_REDIS_PREFIX):
//
//   <p>:blob:<digest>                 hash {size}: the blob exists
//   <p>:repo:{<name>}:layers          set of digests linked into the repository
//   <p>:upload:<id>                   JSON upload session (name, offset, parts, startedAt)
//   <p>:<family>:touched:<digest>     DigestGuard: last reference time (ms, Redis clock)
//   <p>:<family>:writing:<digest>     DigestGuard: writers in flight (count, expires)
//   <p>:<family>:sweeping:<digest>    DigestGuard: a GC sweep's lease
//
// <family> is `gc` for registry blobs and manifests, `containers-gc` for container contents.
import type { RedisKeys } from '@stevedore/platform';

export function blobKeys(keys: RedisKeys) {
  return {
    blob: (digest: string) => keys.key('blob', digest),
    /** SCAN pattern of every blob entry, and the prefix to strip from a match. */
    blobPattern: keys.key('blob', '*'),
    blobPrefix: keys.key('blob', ''),
    layers: (name: string) => keys.repo(name, 'layers'),
    upload: (id: string) => keys.key('upload', id),
  };
}

export function digestGuardKeys(keys: RedisKeys, family: string) {
  return {
    touched: (digest: string) => keys.key(family, 'touched', digest),
    writing: (digest: string) => keys.key(family, 'writing', digest),
    sweeping: (digest: string) => keys.key(family, 'sweeping', digest),
  };
}
