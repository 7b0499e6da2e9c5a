// Rendering the kustomize overlays, and the shape of every object they produce. The upstream
// schemas are checked in schemas.spec.ts; the checks below are what a schema cannot say: known
// apiVersion per kind, names, and cross-references (selectors, ports, probes, volumes, Secrets and
// ConfigMaps, scale targets).
import { join } from 'node:path';
import { applyJson6902, render, strategicMerge, type YamlValue } from '../tools/kustomize';
import {
  EXTERNAL_SECRETS,
  K8S,
  type K8sObject,
  OVERLAYS,
  find,
  kubectlKustomize,
  must,
  podContainers,
  podLabels,
  podSpec,
  quantity,
  rendered,
  selects,
  workloads,
} from './manifests';

const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  Job: 'batch/v1',
  PodDisruptionBudget: 'policy/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  Ingress: 'networking.k8s.io/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  ScaledObject: 'keda.sh/v1alpha1',
};

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Sort lists of named items so that two renderings compare regardless of merge order. */
function normalise(v: unknown): unknown {
  if (Array.isArray(v)) {
    const items = v.map(normalise);
    if (items.every((i) => typeof i === 'object' && i !== null && typeof (i as YamlValue).name === 'string')) {
      return [...items].sort((a: YamlValue, b: YamlValue) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
    return items;
  }
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(
      Object.entries(v)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, normalise(x)]),
    );
  }
  return v;
}
const key = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

describe('deploy/tools/kustomize.ts', () => {
  const obj = (): K8sObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x' },
    spec: { template: { spec: { containers: [{ name: 'a', image: 'i', env: [{ name: 'A', value: '1' }] }] } } },
  });

  it('applies JSON 6902 add, replace, remove and test, and fails a failing test op', () => {
    const out = applyJson6902(obj(), [
      { op: 'test', path: '/spec/template/spec/containers/0/name', value: 'a' },
      { op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: 'B', value: '2' } },
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'j' },
      { op: 'remove', path: '/spec/template/spec/containers/0/env/0' },
      { op: 'add', path: '/metadata/annotations', value: { 'a/b': 'c' } },
      { op: 'replace', path: '/metadata/annotations/a~1b', value: 'd' },
    ]);
    expect(out.spec.template.spec.containers[0]).toEqual({ name: 'a', image: 'j', env: [{ name: 'B', value: '2' }] });
    expect(out.metadata.annotations).toEqual({ 'a/b': 'd' });
    expect(() => applyJson6902(obj(), [{ op: 'test', path: '/spec/template/spec/containers/0/name', value: 'b' }])).toThrow(/test failed/);
    expect(() => applyJson6902(obj(), [{ op: 'replace', path: '/spec/nothing/here', value: 1 }])).toThrow(/does not exist/);
  });

  it('merges strategic patches by name and replaces other lists', () => {
    const out = strategicMerge(obj(), {
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'a',
                env: [
                  { name: 'A', value: '9' },
                  { name: 'C', value: '3' },
                ],
                args: ['x'],
              },
            ],
          },
        },
      },
    });
    expect(out.spec.template.spec.containers).toEqual([
      {
        name: 'a',
        image: 'i',
        args: ['x'],
        env: [
          { name: 'A', value: '9' },
          { name: 'C', value: '3' },
        ],
      },
    ]);
  });

  it('refuses kustomization fields it does not implement', () => {
    expect(() => render(join(__dirname, 'fixtures', 'unsupported'))).toThrow(/commonLabels.*not supported/);
  });
});

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  const objects = rendered(overlay);
  const external = EXTERNAL_SECRETS[overlay];

  it('renders the same objects as `kubectl kustomize` (when kubectl is installed)', () => {
    const { objects: theirs, missing } = kubectlKustomize(join(K8S, 'overlays', overlay));
    if (!theirs) {
      console.warn(`${missing}: the overlay was rendered by deploy/tools/kustomize.ts only`);
      return;
    }
    expect(theirs.map(key).sort()).toEqual(objects.map(key).sort());
    const ours = new Map(objects.map((o) => [key(o), o]));
    for (const o of theirs) expect(normalise(ours.get(key(o)))).toEqual(normalise(o));
  });

  it('has a known apiVersion, a valid name and valid labels on every object, each object once', () => {
    expect(objects.length).toBeGreaterThan(20);
    const seen = new Set<string>();
    for (const o of objects) {
      const where = key(o);
      expect({ where, apiVersion: o.apiVersion }).toEqual({ where, apiVersion: API_VERSIONS[o.kind] });
      expect({ where, ok: DNS1123_SUBDOMAIN.test(o.metadata.name) && o.metadata.name.length <= 253 }).toEqual({ where, ok: true });
      if (['Service', 'Namespace', 'StatefulSet'].includes(o.kind))
        expect({ where, ok: DNS1123_LABEL.test(o.metadata.name) && o.metadata.name.length <= 63 }).toEqual({ where, ok: true });
      for (const labels of [o.metadata.labels ?? {}, WORKLOADS.includes(o.kind) ? podLabels(o) : {}]) {
        for (const [k, v] of Object.entries(labels))
          expect({ where, k, ok: LABEL_VALUE.test(v) && v.length <= 63 }).toEqual({ where, k, ok: true });
      }
      expect(seen.has(where)).toBe(false);
      seen.add(where);
      if (o.kind !== 'Namespace') expect({ where, namespace: o.metadata.namespace }).toEqual({ where, namespace: 'stevedore' });
    }
    expect(find(objects, 'Namespace', 'stevedore')).toBeDefined();
  });

  const WORKLOADS = ['Deployment', 'StatefulSet', 'Job'];

  it('workloads: selectors match their pods, containers are complete and hardened, probes hit declared ports', () => {
    for (const w of workloads(objects)) {
      const where = key(w);
      const labels = podLabels(w);
      if (w.kind !== 'Job') {
        expect({ where, selected: selects(w.spec.selector, labels) }).toEqual({ where, selected: true });
        expect(Object.keys(w.spec.selector.matchLabels ?? {}).length).toBeGreaterThan(0);
      }
      const spec = must(podSpec(w), `${where} pod spec`);
      // The namespace enforces the `restricted` Pod Security Standard.
      expect({ where, sc: spec.securityContext?.runAsNonRoot, seccomp: spec.securityContext?.seccompProfile?.type }).toEqual({
        where,
        sc: true,
        seccomp: 'RuntimeDefault',
      });
      const volumes = new Set([
        ...(spec.volumes ?? []).map((v: YamlValue) => v.name),
        ...(w.spec.volumeClaimTemplates ?? []).map((v: YamlValue) => v.metadata.name),
      ]);
      const containers = podContainers(w);
      expect(containers.length).toBeGreaterThan(0);
      for (const c of containers) {
        const at = `${where} container ${c.name}`;
        expect({ at, name: DNS1123_LABEL.test(c.name), image: typeof c.image === 'string' && c.image.length > 0 }).toEqual({
          at,
          name: true,
          image: true,
        });
        expect({ at, image: c.image }).not.toEqual({ at, image: expect.stringMatching(/:latest$/) });
        expect({ at, ape: c.securityContext?.allowPrivilegeEscalation, drop: c.securityContext?.capabilities?.drop }).toEqual({
          at,
          ape: false,
          drop: ['ALL'],
        });
        const ports = new Map<string, number>();
        for (const p of c.ports ?? []) {
          expect(Number.isInteger(p.containerPort) && p.containerPort > 0 && p.containerPort < 65536).toBe(true);
          if (p.name) {
            expect({ at, port: p.name, ok: p.name.length <= 15 && DNS1123_LABEL.test(p.name) && !ports.has(p.name) }).toEqual({
              at,
              port: p.name,
              ok: true,
            });
            ports.set(p.name, p.containerPort);
          }
        }
        for (const probeName of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
          const probe = c[probeName];
          if (!probe) continue;
          const handlers = ['httpGet', 'exec', 'tcpSocket', 'grpc'].filter((h) => probe[h]);
          expect({ at, probeName, handlers: handlers.length }).toEqual({ at, probeName, handlers: 1 });
          const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
          if (typeof port === 'string')
            expect({ at, probeName, port, declared: ports.has(port) }).toEqual({ at, probeName, port, declared: true });
          if (typeof port === 'number') expect([...ports.values()]).toContain(port);
          if (probe.httpGet) expect(probe.httpGet.path).toMatch(/^\//);
        }
        // Init containers run to completion before the others start: Kubernetes refuses probes on them.
        if (w.kind !== 'Job' && !(spec.initContainers ?? []).includes(c))
          expect({ at, liveness: !!c.livenessProbe, readiness: !!c.readinessProbe }).toEqual({ at, liveness: true, readiness: true });
        const { requests = {}, limits = {} } = c.resources ?? {};
        for (const r of ['cpu', 'memory']) {
          expect({ at, r, request: requests[r] !== undefined, limit: limits[r] !== undefined }).toEqual({
            at,
            r,
            request: true,
            limit: true,
          });
        }
        for (const [r, q] of Object.entries(requests))
          if (limits[r] !== undefined) expect({ at, r, ok: quantity(q as string) <= quantity(limits[r]) }).toEqual({ at, r, ok: true });
        for (const m of c.volumeMounts ?? [])
          expect({ at, mount: m.name, declared: volumes.has(m.name) }).toEqual({ at, mount: m.name, declared: true });
        for (const e of c.env ?? []) {
          expect({ at, env: e.name, ok: ENV_NAME.test(e.name) && (e.value !== undefined) !== (e.valueFrom !== undefined) }).toEqual({
            at,
            env: e.name,
            ok: true,
          });
          const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
          if (!ref) continue;
          const kind = e.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
          const target = find(objects, kind, ref.name);
          if (!target) {
            expect({ at, ref: `${kind} ${ref.name}`, external: kind === 'Secret' && external.includes(ref.name) }).toEqual({
              at,
              ref: `${kind} ${ref.name}`,
              external: true,
            });
            continue;
          }
          const keys = Object.keys({ ...(target.data ?? {}), ...(target.stringData ?? {}) });
          expect({ at, ref: `${kind} ${ref.name}`, key: ref.key, present: keys.includes(ref.key) || ref.optional === true }).toEqual({
            at,
            ref: `${kind} ${ref.name}`,
            key: ref.key,
            present: true,
          });
        }
        for (const from of c.envFrom ?? []) {
          const ref = from.configMapRef ?? from.secretRef;
          expect({ at, ref: ref.name, exists: !!find(objects, from.configMapRef ? 'ConfigMap' : 'Secret', ref.name) }).toEqual({
            at,
            ref: ref.name,
            exists: true,
          });
        }
      }
      for (const v of spec.volumes ?? []) {
        if (v.configMap) expect(find(objects, 'ConfigMap', v.configMap.name)).toBeDefined();
        if (v.secret) expect(find(objects, 'Secret', v.secret.secretName) ?? external.includes(v.secret.secretName)).toBeTruthy();
      }
      if (w.kind === 'StatefulSet') {
        const headless = find(objects, 'Service', w.spec.serviceName);
        expect({ where, headless: headless?.spec.clusterIP, selects: selects({ matchLabels: headless?.spec.selector }, labels) }).toEqual({
          where,
          headless: 'None',
          selects: true,
        });
      }
    }
  });

  it('Services select existing pods and target ports those pods declare', () => {
    for (const s of objects.filter((o) => o.kind === 'Service')) {
      const where = key(s);
      const pods = workloads(objects).filter((w) => selects({ matchLabels: s.spec.selector }, podLabels(w)));
      expect({ where, pods: pods.length > 0 }).toEqual({ where, pods: true });
      for (const p of s.spec.ports) {
        for (const w of pods) {
          const declared = podContainers(w).flatMap((c) => c.ports ?? []);
          const hit = declared.find((d: YamlValue) =>
            typeof p.targetPort === 'string' ? d.name === p.targetPort : d.containerPort === (p.targetPort ?? p.port),
          );
          expect({ where, port: p.name, pod: key(w), hit: !!hit }).toEqual({ where, port: p.name, pod: key(w), hit: true });
        }
      }
    }
  });

  it('every PodDisruptionBudget, HPA and ScaledObject points at a workload that exists', () => {
    for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
      expect('minAvailable' in pdb.spec !== 'maxUnavailable' in pdb.spec).toBe(true);
      expect({ pdb: pdb.metadata.name, selects: workloads(objects).some((w) => selects(pdb.spec.selector, podLabels(w))) }).toEqual({
        pdb: pdb.metadata.name,
        selects: true,
      });
    }
    for (const o of objects.filter((x) => x.kind === 'HorizontalPodAutoscaler' || x.kind === 'ScaledObject')) {
      const ref = o.spec.scaleTargetRef;
      const target = must(find(objects, ref.kind ?? 'Deployment', ref.name), `${key(o)} scale target`);
      // Whoever scales the Deployment owns its replica count: `kubectl apply` must not fight it.
      expect({ scaler: key(o), replicas: target.spec.replicas }).toEqual({ scaler: key(o), replicas: undefined });
      const min = o.spec.minReplicas ?? o.spec.minReplicaCount;
      const max = o.spec.maxReplicas ?? o.spec.maxReplicaCount;
      expect(min).toBeGreaterThanOrEqual(1);
      expect(max).toBeGreaterThanOrEqual(min);
      if (o.kind === 'HorizontalPodAutoscaler') {
        for (const m of o.spec.metrics) {
          if (m.type === 'Resource' && m.resource.target.type === 'Utilization') {
            for (const c of podContainers(target)) expect(c.resources?.requests?.[m.resource.name]).toBeDefined();
          }
        }
        const pdb = objects.find((p) => p.kind === 'PodDisruptionBudget' && selects(p.spec.selector, podLabels(target)));
        if (pdb?.spec.minAvailable !== undefined) expect(pdb.spec.minAvailable).toBeLessThan(min);
      }
    }
  });

  it('the Ingresses (every route; upload sessions hashed) send every path to an existing Service port', () => {
    const ingresses = objects.filter((o) => o.kind === 'Ingress');
    expect(ingresses.map((i) => i.metadata.name).sort()).toEqual(['stevedore', 'stevedore-uploads']);
    for (const ing of ingresses) {
      for (const rule of ing.spec.rules) {
        expect(rule.host).toMatch(DNS1123_SUBDOMAIN);
        for (const p of rule.http.paths) {
          expect(['Prefix', 'Exact', 'ImplementationSpecific']).toContain(p.pathType);
          const svc = must(find(objects, 'Service', p.backend.service.name), `Service ${p.backend.service.name}`);
          const port = p.backend.service.port;
          expect(svc.spec.ports.some((sp: YamlValue) => (port.name ? sp.name === port.name : sp.port === port.number))).toBe(true);
        }
      }
      for (const t of ing.spec.tls ?? []) expect(find(objects, 'Secret', t.secretName) ?? external.includes(t.secretName)).toBeTruthy();
    }
  });
});
