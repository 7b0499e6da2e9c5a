// The metadata service's keyspace, written down in one place. Storage (distribution's tree; the
// paths are StorageLayout in libs/platform, shared with layer storage under repositories/<name>/):
//
//   repositories/<name>/_manifests/revisions/<alg>/<hex>/link          manifest linked into a repository
//   repositories/<name>/_manifests/tags/<tag>/current/link             tag -> manifest digest (mtime: tag time)
//   repositories/<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link   a digest the tag has named (mtime: when)
//   blobs/<alg>/<2 hex>/<hex>/data                                     manifest bytes, content-addressed as blobs
//
// Redis (an index of storage, rebuilt by reindex; <p> is STEVEDORE_REDIS_PREFIX):
//
//   <p>:manifest:<digest>                      hash {mediaType, bytes}
//   <p>:catalog                                zset of repository names (score 0: lexical order)
//   <p>:repo:{<name>}:revisions                set of manifest digests in the repository
//   <p>:repo:{<name>}:tags                     hash tag -> digest
//   <p>:repo:{<name>}:tagnames                 zset of tags (score 0: lexical order, for /tags/list)
//   <p>:repo:{<name>}:tagtimes                 hash tag -> ms it was last set
//   <p>:repo:{<name>}:taghist:<tag>            zset digest -> ms the tag last named it
//   <p>:repo:{<name>}:referrers:<subject>      hash referrer digest -> descriptor JSON
import type { RedisKeys } from '@stevedore/platform';

export function metadataKeys(keys: RedisKeys) {
  return {
    manifest: (digest: string) => keys.key('manifest', digest),
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
  };
}
