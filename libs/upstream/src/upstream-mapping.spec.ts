import { resolveUpstream } from './upstream-mapping';
import type { UpstreamRecord } from './upstream';

const rec = (id: string, prefixes: string[], def = false): UpstreamRecord => ({
  id,
  url: `https://${id}`,
  prefixes,
  default: def,
  createdAt: '',
  updatedAt: '',
});
const hub = rec('hub', ['docker.io'], true);
const quay = rec('quay', ['quay.io']);
const mirror = rec('mirror', ['quay.io/special', 'mirror/ghcr']);
const all = [hub, quay, mirror];

const map = (name: string, ups = all) => {
  const m = resolveUpstream(name, ups);
  return m && [m.upstream.id, m.remoteName];
};

describe('resolveUpstream', () => {
  it('maps docker.io/ names to the docker.io upstream without the prefix', () => {
    expect(map('docker.io/library/busybox')).toEqual(['hub', 'library/busybox']);
    expect(map('docker.io/bitnami/redis')).toEqual(['hub', 'bitnami/redis']);
  });

  it('adds library/ to one-component Docker Hub names, as Docker does', () => {
    expect(map('docker.io/busybox')).toEqual(['hub', 'library/busybox']);
    expect(map('busybox')).toEqual(['hub', 'library/busybox']);
  });

  it('sends short names to the default upstream unchanged', () => {
    expect(map('library/busybox')).toEqual(['hub', 'library/busybox']);
    expect(map('alice/app')).toEqual(['hub', 'alice/app']);
  });

  it('uses the longest matching prefix', () => {
    expect(map('quay.io/coreos/etcd')).toEqual(['quay', 'coreos/etcd']);
    expect(map('quay.io/special/tool')).toEqual(['mirror', 'tool']);
    expect(map('mirror/ghcr/org/app')).toEqual(['mirror', 'org/app']);
  });

  it('serves nothing for unconfigured registry hosts, and no short names without a default', () => {
    expect(map('ghcr.io/org/app')).toBeUndefined();
    expect(map('localhost/app')).toBeUndefined();
    expect(map('library/busybox', [quay])).toBeUndefined();
    expect(map('quay.io', all)).toBeUndefined();
  });

  it('needs a whole-component prefix match', () => {
    expect(map('quay.iox/a/b', [quay])).toBeUndefined();
    expect(map('docker.io.evil/a', [rec('hub', ['docker.io'])])).toBeUndefined();
  });
});
