// GC's keyspace (retention rules and quotas), written down in one place. Storage:
//
//   gc/retention.json             retention rules (the truth; Redis is their index)
//   gc/quota-limits.json          namespace -> limit in bytes
//
// Redis (<p> is STEVEDORE_REDIS_PREFIX):
//
//   <p>:gc:retention                    hash: index of gc/retention.json
//   <p>:quota:limits                    hash: index of gc/quota-limits.json
//   <p>:quota:{<namespace>}:digests     hash digest -> bytes counted against the namespace
//   <p>:quota:{<namespace>}:used        bytes counted
//   <p>:gc:{wait,active,<job id>,…}     BullMQ's queue (its keys are BullMQ's; beside DigestGuard's gc:touched: …)
//
// Redis Cluster: a namespace's two quota keys share its {<namespace>} slot (RESERVE runs over them);
// the limits hash is its own slot and is read just before RESERVE, which takes the limit as an
// argument (namespace-quotas.ts). BullMQ's keys are `{<p>}:gc:…` on a cluster (queues.ts).
//
// The digest leases GC sweeps under (`<p>:gc:{touched,writing,sweeping}:<d>`) are libs/blobs' (blob-layout.ts).
import type { RedisKeys } from '@stevedore/platform';

export const RETENTION_PATH = 'gc/retention.json';
export const QUOTA_LIMITS_PATH = 'gc/quota-limits.json';

export function gcKeys(keys: RedisKeys) {
  return {
    retention: () => keys.key('gc', 'retention'),
    quotaLimits: () => keys.key('quota', 'limits'),
    quotaDigests: (ns: string) => keys.key('quota', `{${ns}}`, 'digests'),
    quotaUsed: (ns: string) => keys.key('quota', `{${ns}}`, 'used'),
  };
}
