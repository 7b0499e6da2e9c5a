// The containers' keyspace, written down in one place (only libs/containers reads or writes it).
// Storage:
//
//   containers/records/<id>/state.json                 a container: record + read-write layer (the truth)
//   containers/content/sha256/<2 hex>/<hex>            file contents, content-addressed
//   containers/layers/sha256/<hex>/index.json          an image layer read into entries (a cache)
//   containers/tmp/<uuid>/data                         a content put in progress; .keep anchors the folder
//
// Redis (<p> is STEVEDORE_REDIS_PREFIX):
//
//   <p>:containers:ids                                 zset of container ids by creation time
//   <p>:containers:{<id>}:state                        the state JSON (copy of state.json)
//   <p>:containers:{<id>}:lock                         per-container write lock (token, PX)
//   <p>:containers:name:<owner>/<name>                 the id holding a name among its owner's containers
//   <p>:containers:layer-index:{<digest>}              cached layer index JSON
//   <p>:containers:layer-used:{<digest>}               when a container last used the layer (ms, Redis clock)
//   <p>:containers-gc:{touched,writing,sweeping}:<d>   DigestGuard of the contents (see libs/blobs blob-layout.ts;
//                                                      on a Redis Cluster <d> is {<d>}: one slot per digest)
//
// Redis Cluster: a container's keys share {<id>}, a layer's {<digest>}; the collector's scripts and
// the layer stamps run per digest, never one pipeline or DEL across digests (container-collector.ts,
// lower-layers.ts).
import { randomUUID } from 'node:crypto';
import { digestHex, type Digest } from '@stevedore/oci';
import type { RedisKeys } from '@stevedore/platform';

export const ContainerPaths = {
  content: (d: Digest) => `containers/content/sha256/${digestHex(d).slice(0, 2)}/${digestHex(d)}`,
  contentRoot: 'containers/content/',
  tmp: () => `containers/tmp/${randomUUID()}/data`,
  tmpRoot: 'containers/tmp/',
  tmpKeep: 'containers/tmp/.keep',
  state: (id: string) => `containers/records/${id}/state.json`,
  records: 'containers/records/',
  layerIndex: (d: Digest) => `containers/layers/sha256/${digestHex(d)}/index.json`,
  layersRoot: 'containers/layers/',
} as const;

/** The digest a content or layer-index path names, or undefined for any other path. */
export function contentDigestOf(path: string): Digest | undefined {
  const m = /^containers\/content\/sha256\/[a-f0-9]{2}\/([a-f0-9]{64})$/.exec(path);
  return m ? (`sha256:${m[1]}` as Digest) : undefined;
}
export function layerIndexDigestOf(path: string): Digest | undefined {
  const m = /^containers\/layers\/sha256\/([a-f0-9]{64})\/index\.json$/.exec(path);
  return m ? (`sha256:${m[1]}` as Digest) : undefined;
}

/** The DigestGuard family of container contents (apart from the registry's `gc`). */
export const CONTENT_GUARD_FAMILY = 'containers-gc';

export function containerKeys(keys: RedisKeys) {
  return {
    ids: () => keys.key('containers', 'ids'),
    state: (id: string) => keys.key('containers', `{${id}}`, 'state'),
    lock: (id: string) => keys.key('containers', `{${id}}`, 'lock'),
    // Names are unique per owner (the anonymous owner is ''), as they are per Docker daemon.
    name: (owner: string, name: string) => keys.key('containers', 'name', `${owner}/${name}`),
    // Both keys of a layer carry its {digest} hash tag: the GC's script touches them together.
    layerIndex: (d: Digest) => keys.key('containers', 'layer-index', `{${d}}`),
    layerUsed: (d: Digest) => keys.key('containers', 'layer-used', `{${d}}`),
  };
}
