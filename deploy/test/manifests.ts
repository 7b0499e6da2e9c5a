// Shared by the deploy specs: rendering the overlays, finding objects, resolving a container's
// environment the way the kubelet does, label selectors and Kubernetes quantities.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type K8sObject, parseYamlDocuments, podContainers, podSpec, render, splitImage, type YamlValue } from '../tools/kustomize';

export const REPO = resolve(__dirname, '..', '..');
export const DEPLOY = resolve(__dirname, '..');
export const K8S = join(DEPLOY, 'k8s');
export const OVERLAYS = ['dev', 'production'] as const;
export type Overlay = (typeof OVERLAYS)[number];

/** The split apps deployed on Kubernetes, with the port each listens on (fixed by the lead). */
export const SPLIT_APPS = { gateway: 5000, 'blob-service': 5001, 'metadata-service': 5002, 'commit-worker': 5003 } as const;
export type SplitApp = keyof typeof SPLIT_APPS;
/** Every app with a Dockerfile, and its STEVEDORE_TARGET. */
export const APPS: Record<string, { target: string; port: number }> = {
  gateway: { target: 'gateway', port: 5000 },
  'blob-service': { target: 'blob-service', port: 5001 },
  'metadata-service': { target: 'metadata-service', port: 5002 },
  'commit-worker': { target: 'commit-worker', port: 5003 },
  stevedore: { target: 'all', port: 5000 },
};

/** Objects the manifests reference but that the operator creates (deploy/README.md says how). */
export const EXTERNAL_SECRETS: Record<Overlay, string[]> = {
  dev: [],
  production: ['stevedore-secrets', 'stevedore-tls'],
};

const cache = new Map<string, K8sObject[]>();
export function rendered(overlay: Overlay | 'base'): K8sObject[] {
  const dir = overlay === 'base' ? join(K8S, 'base') : join(K8S, 'overlays', overlay);
  const objects = cache.get(dir) ?? render(dir);
  cache.set(dir, objects);
  return structuredClone(objects);
}

/** `kubectl kustomize` output, or undefined with the reason when kubectl is not installed. */
export function kubectlKustomize(dir: string): { objects?: K8sObject[]; missing?: string } {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'pipe' });
  } catch (e) {
    return { missing: `kubectl is not available (${(e as Error).message.split('\n')[0]})` };
  }
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  return { objects: parseYamlDocuments(out, `kubectl kustomize ${dir}`) as K8sObject[] };
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

export function get(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = find(objects, kind, name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
}

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod'];
export const workloads = (objects: K8sObject[]): K8sObject[] => objects.filter((o) => WORKLOAD_KINDS.includes(o.kind));

export function podLabels(o: K8sObject): Record<string, string> {
  if (o.kind === 'Pod') return o.metadata.labels ?? {};
  if (o.kind === 'CronJob') return o.spec?.jobTemplate?.spec?.template?.metadata?.labels ?? {};
  return o.spec?.template?.metadata?.labels ?? {};
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** Kubernetes label selector semantics; an empty selector selects everything. */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** The Stevedore app a workload runs, from its image name (`.../stevedore-<app>` or `stevedore/<app>`). */
export function stevedoreApp(o: K8sObject): string | undefined {
  if (o.kind !== 'Deployment') return undefined;
  for (const c of podContainers(o)) {
    const repo = splitImage(c.image).repo;
    const last = repo.split('/').pop() ?? repo;
    const app = last.startsWith('stevedore-')
      ? last.slice('stevedore-'.length)
      : repo.split('/').slice(-2)[0] === 'stevedore'
        ? last
        : undefined;
    if (app && app in APPS) return app;
  }
  return undefined;
}

export const stevedoreDeployments = (objects: K8sObject[]): K8sObject[] => objects.filter((o) => stevedoreApp(o) !== undefined);

/**
 * The environment a container starts with, as the kubelet builds it: envFrom first, then env.
 * Secret values come from the rendered Secret, or `placeholder(name, key)` for an external one
 * (undefined leaves the variable unset, as an optional reference to a missing key does).
 */
export function containerEnv(
  objects: K8sObject[],
  container: { env?: YamlValue[]; envFrom?: YamlValue[] },
  placeholder: (secret: string, key: string) => string | undefined = () => undefined,
): { env: Record<string, string>; names: string[] } {
  const env: Record<string, string> = {};
  const names: string[] = [];
  const secretValue = (name: string, key: string, optional?: boolean): string | undefined => {
    const s = find(objects, 'Secret', name);
    if (!s) return placeholder(name, key);
    const v = s.stringData?.[key] ?? (s.data?.[key] !== undefined ? Buffer.from(s.data[key], 'base64').toString('utf8') : undefined);
    if (v === undefined && !optional) throw new Error(`Secret ${name} has no key ${key}`);
    return v;
  };
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = get(objects, 'ConfigMap', from.configMapRef.name);
      for (const [k, v] of Object.entries(cm.data ?? {})) {
        env[(from.prefix ?? '') + k] = String(v);
        names.push((from.prefix ?? '') + k);
      }
    } else if (from.secretRef) {
      const s = find(objects, 'Secret', from.secretRef.name);
      for (const k of Object.keys({ ...(s?.data ?? {}), ...(s?.stringData ?? {}) })) {
        env[(from.prefix ?? '') + k] = must(secretValue(from.secretRef.name, k), `Secret ${from.secretRef.name} key ${k}`);
        names.push((from.prefix ?? '') + k);
      }
    }
  }
  for (const e of container.env ?? []) {
    names.push(e.name);
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.secretKeyRef) {
      const r = e.valueFrom.secretKeyRef;
      const v = secretValue(r.name, r.key, r.optional);
      if (v === undefined) delete env[e.name];
      else env[e.name] = v;
    } else if (e.valueFrom?.configMapKeyRef) {
      const r = e.valueFrom.configMapKeyRef;
      const v = get(objects, 'ConfigMap', r.name).data?.[r.key];
      if (v === undefined && !r.optional) throw new Error(`ConfigMap ${r.name} has no key ${r.key}`);
      if (v !== undefined) env[e.name] = v;
    } else if (e.valueFrom?.fieldRef) env[e.name] = `<${e.valueFrom.fieldRef.fieldPath}>`;
  }
  return { env, names };
}

const SUFFIX: Record<string, number> = {
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};
/** A Kubernetes quantity (`500m`, `2`, `512Mi`, `1Ti`) as a number. */
export function quantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) throw new Error(`not a quantity: ${q}`);
  return Number(m[1]) * (m[2] ? SUFFIX[m[2]] : 1);
}

export { podContainers, podSpec, splitImage };
export type { K8sObject };

/** The value, or a test failure naming what was missing. */
export function must<T>(v: T | undefined | null, what: string): T {
  if (v === undefined || v === null) throw new Error(`missing: ${what}`);
  return v;
}

export function appSourceExists(app: string): boolean {
  return existsSync(join(REPO, 'apps', app, 'src', 'main.ts'));
}
