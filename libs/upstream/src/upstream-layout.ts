// Where this lib keeps its records in storage (the source of truth) and its keys in Redis.
//
//   upstreams/<id>.json                 an UpstreamRecord (password sealed with SecretBox)
//   replication-rules/<id>.json         a ReplicationRule
//   upstream-origins/<name>/_tags/<tag>  a tag pull-through cached from an upstream: JSON
//                                        { upstream, remoteName, at }; removed when the tag is
//                                        pushed or tagged here (then it is ours)
//
// Redis (rebuildable):
//   <prefix>:repo:{<name>}:upstream-origin:<tag>  the index of upstream-origins/: the tag is the
//                                                 upstream's, so it is revalidated against it
//   <prefix>:upstream:origins-indexed             set once this Redis has every upstream-origins/
//                                                 object as a marker (a fresh Redis has not: the
//                                                 markers are rebuilt from storage first)
//   <prefix>:repo:{<name>}:upstream-fresh:<tag>   set while a pull-through tag is within its TTL
//   <prefix>:upstream:fetch:<digest>              lock: one replica fetches a blob from upstream
//   <prefix>:upstream:pushed:<upstream>:<digest>  a repository on that upstream known to hold the blob (mount source)
import type { RedisKeys } from '@stevedore/platform';

export const UpstreamLayout = {
  upstreamsRoot: 'upstreams/',
  upstream(id: string): string {
    return `upstreams/${id}.json`;
  },
  rulesRoot: 'replication-rules/',
  rule(id: string): string {
    return `replication-rules/${id}.json`;
  },
  originsRoot: 'upstream-origins/',
  // Repository name components never start with '_', so `_tags` cannot be part of a name.
  origin(name: string, tag: string): string {
    return `upstream-origins/${name}/_tags/${tag}`;
  },
} as const;

/** Which tag an upstream-origins/ key is of, or undefined for anything else. */
export function parseOriginKey(key: string): { name: string; tag: string } | undefined {
  const m = /^upstream-origins\/(.+)\/_tags\/([A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/.exec(key);
  return m ? { name: m[1], tag: m[2] } : undefined;
}

/** What upstream-origins/<name>/_tags/<tag> holds. */
export interface UpstreamOrigin {
  /** The upstream's id (UpstreamRecord.id). */
  upstream: string;
  /** The repository's name on the upstream. */
  remoteName: string;
  /** When it was cached (ISO 8601). */
  at: string;
}

export function upstreamKeys(keys: RedisKeys) {
  return {
    origin: (name: string, tag: string) => keys.repo(name, 'upstream-origin', tag),
    originsIndexed: () => keys.key('upstream', 'origins-indexed'),
    fresh: (name: string, tag: string) => keys.repo(name, 'upstream-fresh', tag),
    fetchLock: (digest: string) => keys.key('upstream', 'fetch', digest),
    pushed: (upstream: string, digest: string) => keys.key('upstream', 'pushed', upstream, digest),
  };
}
