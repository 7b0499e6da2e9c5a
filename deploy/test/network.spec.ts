// NetworkPolicies, evaluated: who may open a connection to which pod and port. From outside the
// namespace only ingress-nginx reaches anything, and only the gateway; inside, each service admits
// exactly its callers; KEDA reads Redis and Prometheus scrapes metrics.
import { OVERLAYS, type K8sObject, podContainers, podLabels, rendered, selects, workloads } from './manifests';
import type { YamlValue } from '../tools/kustomize';

interface Source {
  namespace: string;
  labels: Record<string, string>;
}

/** Is a TCP connection from `src` to a pod of workload `dst` on `port` allowed by the policies? */
function allowed(objects: K8sObject[], src: Source, dst: K8sObject, port: number): boolean {
  const dstNs = dst.metadata.namespace ?? 'default';
  const labels = podLabels(dst);
  const policies = objects.filter(
    (p) =>
      p.kind === 'NetworkPolicy' &&
      p.metadata.namespace === dstNs &&
      (p.spec.policyTypes ?? ['Ingress']).includes('Ingress') &&
      selects(p.spec.podSelector, labels),
  );
  if (policies.length === 0) return true;
  const named = new Map<string, number>(
    podContainers(dst).flatMap((c) => (c.ports ?? []).map((p: YamlValue) => [p.name, p.containerPort] as [string, number])),
  );
  const nsLabels = { 'kubernetes.io/metadata.name': src.namespace };
  return policies.some((p) =>
    (p.spec.ingress ?? []).some((rule: YamlValue) => {
      const portOk =
        !rule.ports ||
        rule.ports.some((rp: YamlValue) =>
          typeof rp.port === 'string' ? named.get(rp.port) === port : rp.port === undefined || rp.port === port,
        );
      if (!portOk) return false;
      if (!rule.from) return true;
      return rule.from.some((peer: YamlValue) => {
        if (peer.ipBlock) return false; // pods are not addressed by CIDR here
        const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, nsLabels) : src.namespace === dstNs;
        const podOk = peer.podSelector ? selects(peer.podSelector, src.labels) : true;
        return nsOk && podOk;
      });
    }),
  );
}

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  const objects = rendered(overlay);
  const pods = workloads(objects);
  const pod = (name: string): K8sObject => {
    const w = pods.find((x) => x.metadata.name === name);
    if (!w) throw new Error(`no workload ${name}`);
    return w;
  };
  const inside = (name: string): Source => ({ namespace: 'stevedore', labels: podLabels(pod(name)) });
  const ingressNginx: Source = { namespace: 'ingress-nginx', labels: { 'app.kubernetes.io/name': 'ingress-nginx' } };
  const stranger: Source = { namespace: 'default', labels: { app: 'anything' } };
  const keda: Source = { namespace: 'keda', labels: { app: 'keda-operator' } };
  const monitoring: Source = { namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus' } };
  const ports = (w: K8sObject): number[] => podContainers(w).flatMap((c) => (c.ports ?? []).map((p: YamlValue) => p.containerPort));

  it('denies ingress by default and every policy selects some pod', () => {
    const deny = objects.find((p) => p.kind === 'NetworkPolicy' && Object.keys(p.spec.podSelector).length === 0);
    expect(deny?.spec.policyTypes).toEqual(['Ingress']);
    expect(deny?.spec.ingress ?? []).toEqual([]);
    for (const p of objects.filter((o) => o.kind === 'NetworkPolicy')) {
      expect({ policy: p.metadata.name, selects: pods.some((w) => selects(p.spec.podSelector, podLabels(w))) }).toEqual({
        policy: p.metadata.name,
        selects: true,
      });
      for (const rule of p.spec.ingress ?? []) {
        expect(rule.from?.length).toBeGreaterThan(0); // no "from anywhere" rule
        for (const peer of rule.from) {
          expect(peer.ipBlock).toBeUndefined();
          // A pod peer names pods that exist.
          if (peer.podSelector && !peer.namespaceSelector) {
            expect({
              policy: p.metadata.name,
              peer: peer.podSelector,
              exists: pods.some((w) => selects(peer.podSelector, podLabels(w))),
            }).toEqual({
              policy: p.metadata.name,
              peer: peer.podSelector,
              exists: true,
            });
          }
        }
      }
    }
  });

  it('from outside the namespace, only ingress-nginx reaches only the gateway', () => {
    for (const w of pods) {
      for (const port of ports(w)) {
        const expected = w.metadata.name === 'gateway';
        expect({ to: `${w.metadata.name}:${port}`, allowed: allowed(objects, ingressNginx, w, port) }).toEqual({
          to: `${w.metadata.name}:${port}`,
          allowed: expected,
        });
        expect({ to: `${w.metadata.name}:${port}`, allowed: allowed(objects, stranger, w, port) }).toEqual({
          to: `${w.metadata.name}:${port}`,
          allowed: false,
        });
      }
    }
  });

  it('inside, each service admits exactly its callers', () => {
    const apps = ['gateway', 'blob-service', 'metadata-service', 'commit-worker'];
    const expectations: [string, string, number, boolean][] = [
      ['gateway', 'blob-service', 5001, true],
      ['gateway', 'metadata-service', 5002, true],
      ['metadata-service', 'blob-service', 5001, true],
      ['commit-worker', 'blob-service', 5001, true],
      ['commit-worker', 'metadata-service', 5002, true],
      ['blob-service', 'metadata-service', 5002, false],
      ['gateway', 'commit-worker', 5003, false],
      ['redis', 'minio', 9000, false],
      ['minio', 'minio', 9000, true], // the distributed nodes talk to each other
      ['minio-create-bucket', 'minio', 9000, true],
      ['minio', 'redis', 6379, false],
      // Sentinel (production): the pods replicate from each other and the apps ask the sentinels.
      ['redis', 'redis', 6379, overlay === 'production'],
      ['redis', 'redis', 26379, overlay === 'production'],
      ['minio', 'redis', 26379, false],
      ...apps.flatMap((a): [string, string, number, boolean][] => [
        [a, 'redis', 6379, true],
        [a, 'redis', 26379, overlay === 'production'],
        [a, 'minio', 9000, true],
        [a, 'minio', 9001, false], // the console is for port-forward only
      ]),
    ];
    for (const [from, to, port, expected] of expectations) {
      expect({ from, to, port, allowed: allowed(objects, inside(from), pod(to), port) }).toEqual({ from, to, port, allowed: expected });
    }
  });

  it('KEDA reaches Redis and Prometheus reaches the metrics ports, nothing else', () => {
    for (const w of pods) {
      for (const port of ports(w)) {
        const to = `${w.metadata.name}:${port}`;
        expect({ to, keda: allowed(objects, keda, w, port) }).toEqual({ to, keda: w.metadata.name === 'redis' });
        const scraped = w.spec.template?.metadata?.annotations?.['prometheus.io/port'] === String(port);
        expect({ to, monitoring: allowed(objects, monitoring, w, port) }).toEqual({ to, monitoring: scraped });
      }
    }
  });
});
