// Where this lib keeps its records in storage (the source of truth) and its keys in Redis.
//
//   upstreams/<id>.json                 an UpstreamRecord (password sealed with SecretBox)
//   replication-rules/<id>.json         a ReplicationRule
//
// Redis (rebuildable, all short-lived):
//   <prefix>:upstream:fresh:{<name>}:<tag>     set while a pull-through tag is within its TTL
//   <prefix>:upstream:fetch:<digest>           lock: one replica fetches a blob from upstream
//   <prefix>:upstream:pushed:<upstream>:<digest>  a repository on that upstream known to hold the blob (mount source)
export const UpstreamLayout = {
  upstreamsRoot: 'upstreams/',
  upstream(id: string): string {
    return `upstreams/${id}.json`;
  },
  rulesRoot: 'replication-rules/',
  rule(id: string): string {
    return `replication-rules/${id}.json`;
  },
} as const;
