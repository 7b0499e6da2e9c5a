// Which upstream serves a repository name, and under which name there.
//
// Rules (in order):
//  1. Prefix: the longest configured prefix `p` with `name` = `p/<rest>` wins; the upstream is asked
//     for `<rest>`. So with `docker.io` configured, `docker.io/library/busybox` -> `library/busybox`,
//     and with `quay.io`, `quay.io/coreos/etcd` -> `coreos/etcd`.
//  2. Short names: a name whose first component is not a registry host (no `.` or `:`, not
//     `localhost`) goes to the upstream marked `default` (docker.io, as in Docker), unchanged:
//     `library/busybox` -> `library/busybox`.
//  3. Docker Hub's official images: when the upstream is the default one or the prefix is
//     `docker.io`, a one-component remaining name gets `library/` (`docker.io/busybox` and
//     `busybox` -> `library/busybox`).
// Cached content lives under the name as requested: `docker.io/library/busybox` and
// `library/busybox` are two local repositories that share blobs (content-addressed).
import type { UpstreamRecord } from './upstream';

export interface UpstreamMapping {
  upstream: UpstreamRecord;
  /** Repository name at the upstream. */
  remoteName: string;
}

function hostLike(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

export function resolveUpstream(name: string, upstreams: readonly UpstreamRecord[]): UpstreamMapping | undefined {
  let best: { upstream: UpstreamRecord; prefix: string } | undefined;
  for (const u of upstreams) {
    for (const p of u.prefixes) {
      if (name.startsWith(p + '/') && (!best || p.length > best.prefix.length)) best = { upstream: u, prefix: p };
    }
  }
  let remoteName: string;
  let upstream: UpstreamRecord;
  if (best) {
    upstream = best.upstream;
    remoteName = name.slice(best.prefix.length + 1);
    if ((best.prefix === 'docker.io' || upstream.default) && !remoteName.includes('/')) remoteName = `library/${remoteName}`;
  } else {
    const def = upstreams.find((u) => u.default);
    if (!def || hostLike(name.split('/')[0])) return undefined;
    upstream = def;
    remoteName = name.includes('/') ? name : `library/${name}`;
  }
  return { upstream, remoteName };
}
