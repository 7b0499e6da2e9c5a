// A small kustomize for the subset deploy/k8s uses, so the manifests render (and are tested) where
// neither kustomize nor kubectl is installed. Supported kustomization fields: resources (files and
// directories), namespace, images, replicas, patches (JSON 6902 lists with a target, or strategic
// merge patches whose lists merge by `name`). Anything else is refused rather than ignored, so an
// overlay cannot silently use a feature this renderer would get wrong. When kubectl is present the
// tests render with `kubectl kustomize` too and require the same objects.
//
//   node -r @swc-node/register deploy/tools/kustomize.ts deploy/k8s/overlays/dev > dev.yaml
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as YAML from 'yaml';

/**
 * A value inside a rendered Kubernetes manifest: whatever YAML the kustomizations hold. The renderer
 * merges and walks it generically, and the deploy tests read the fields they assert on (expect() is
 * the check); a schema for every Kubernetes kind would be a second copy of Kubernetes'. This is the
 * one `any` of the deploy project, named so it can be found.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type YamlValue = any;

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: YamlValue;
};

interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'replicas', 'patches']);

/** Kinds that have no namespace (the ones a kustomization could plausibly hold). */
export const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);

/** Parse a multi-document YAML file; refuses documents with errors. */
export function parseYamlDocuments(text: string, source = '<yaml>'): unknown[] {
  const out: unknown[] = [];
  for (const doc of YAML.parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJSON();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

function readYaml(file: string): unknown[] {
  return parseYamlDocuments(readFileSync(file, 'utf8'), file);
}

function kustomizationFile(dir: string): string {
  for (const name of ['kustomization.yaml', 'kustomization.yml', 'Kustomization']) {
    const f = join(dir, name);
    if (existsSync(f)) return f;
  }
  throw new Error(`${dir}: no kustomization.yaml`);
}

const clone = <T>(v: T): T => structuredClone(v);
const isObject = (v: unknown): v is Record<string, YamlValue> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Render a kustomization directory into its objects, in resource order. */
export function render(dir: string): K8sObject[] {
  dir = resolve(dir);
  const file = kustomizationFile(dir);
  const [k] = readYaml(file) as Record<string, YamlValue>[];
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) throw new Error(`${file}: field '${key}' is not supported by deploy/tools/kustomize.ts`);
  }
  let objects: K8sObject[] = [];
  for (const r of (k.resources ?? []) as string[]) {
    const p = resolve(dir, r);
    if (!existsSync(p)) throw new Error(`${file}: resource ${r} does not exist`);
    if (statSync(p).isDirectory()) objects.push(...render(p));
    else objects.push(...(readYaml(p) as K8sObject[]));
  }
  for (const o of objects) {
    if (!o || typeof o.kind !== 'string' || typeof o.apiVersion !== 'string' || !o.metadata?.name) {
      throw new Error(`${file}: a resource without apiVersion, kind or metadata.name: ${JSON.stringify(o).slice(0, 200)}`);
    }
  }
  for (const patch of (k.patches ?? []) as { path?: string; patch?: string; target?: PatchTarget }[]) {
    const text = patch.path ? readFileSync(resolve(dir, patch.path), 'utf8') : patch.patch;
    if (text === undefined) throw new Error(`${file}: a patch needs path or patch`);
    const docs = parseYamlDocuments(text, patch.path ?? file);
    if (docs.length === 1 && Array.isArray(docs[0])) {
      const target = patch.target;
      if (!target) throw new Error(`${file}: a JSON 6902 patch needs a target`);
      const hits = objects.filter((o) => matches(o, target));
      if (hits.length === 0) throw new Error(`${file}: patch target ${JSON.stringify(patch.target)} matches nothing`);
      objects = objects.map((o) => (hits.includes(o) ? applyJson6902(o, docs[0] as Json6902Op[], patch.path ?? file) : o));
    } else {
      for (const smp of docs as K8sObject[]) {
        const target: PatchTarget = patch.target ?? { kind: smp.kind, name: smp.metadata?.name };
        const hits = objects.filter((o) => matches(o, target));
        if (hits.length === 0) throw new Error(`${file}: patch target ${JSON.stringify(target)} matches nothing`);
        objects = objects.map((o) => (hits.includes(o) ? strategicMerge(o, smp) : o));
      }
    }
  }
  for (const { name, count } of (k.replicas ?? []) as { name: string; count: number }[]) {
    const hits = objects.filter((o) => o.metadata.name === name && ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(o.kind));
    if (hits.length === 0) throw new Error(`${file}: replicas: no workload named ${name}`);
    for (const o of hits) o.spec.replicas = count;
  }
  for (const img of (k.images ?? []) as { name: string; newName?: string; newTag?: string; digest?: string }[]) {
    let used = false;
    for (const o of objects) {
      for (const c of podContainers(o)) {
        const { repo } = splitImage(c.image);
        if (repo !== img.name) continue;
        used = true;
        const tag = img.digest ? `@${img.digest}` : img.newTag !== undefined ? `:${img.newTag}` : splitImage(c.image).suffix;
        c.image = `${img.newName ?? repo}${tag}`;
      }
    }
    if (!used) throw new Error(`${file}: images: no container uses ${img.name}`);
  }
  if (k.namespace) {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  return objects;
}

function matches(o: K8sObject, t: PatchTarget): boolean {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  if (t.kind !== undefined && t.kind !== o.kind) return false;
  if (t.name !== undefined && t.name !== o.metadata.name) return false;
  if (t.namespace !== undefined && t.namespace !== o.metadata.namespace) return false;
  if (t.group !== undefined && t.group !== group) return false;
  if (t.version !== undefined && t.version !== version) return false;
  return true;
}

/** Containers and init containers of any workload's pod template (or a bare Pod). */
export function podContainers(o: K8sObject): { name: string; image: string; [k: string]: YamlValue }[] {
  const spec = podSpec(o);
  return spec ? [...(spec.initContainers ?? []), ...(spec.containers ?? [])] : [];
}

export function podSpec(o: K8sObject): Record<string, YamlValue> | undefined {
  if (o.kind === 'Pod') return o.spec;
  if (o.kind === 'CronJob') return o.spec?.jobTemplate?.spec?.template?.spec;
  return o.spec?.template?.spec;
}

export function splitImage(image: string): { repo: string; suffix: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { repo: image.slice(0, at), suffix: image.slice(at) };
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon > slash) return { repo: image.slice(0, colon), suffix: image.slice(colon) };
  return { repo: image, suffix: '' };
}

export interface Json6902Op {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy';
  path: string;
  value?: unknown;
  from?: string;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`bad JSON pointer ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(doc: YamlValue, parts: string[], where: string): YamlValue {
  let cur = doc;
  for (const p of parts) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isObject(cur)) cur = cur[p];
    else cur = undefined;
    if (cur === undefined) throw new Error(`${where}: path /${parts.join('/')} does not exist`);
  }
  return cur;
}

/** RFC 6902 on a copy of the object. */
export function applyJson6902(o: K8sObject, ops: Json6902Op[], where = 'patch'): K8sObject {
  const doc = clone(o);
  for (const op of ops) {
    const parts = pointer(op.path);
    const parent = getAt(doc, parts.slice(0, -1), where);
    const last = parts[parts.length - 1];
    const here = `${where} (${op.op} ${op.path})`;
    switch (op.op) {
      case 'test':
        if (JSON.stringify(getAt(doc, parts, here)) !== JSON.stringify(op.value)) {
          throw new Error(`${here}: test failed, found ${JSON.stringify(getAt(doc, parts, here))}`);
        }
        break;
      case 'add':
        if (Array.isArray(parent)) {
          const i = last === '-' ? parent.length : Number(last);
          if (!(i >= 0 && i <= parent.length)) throw new Error(`${here}: index out of range`);
          parent.splice(i, 0, clone(op.value));
        } else parent[last] = clone(op.value);
        break;
      case 'replace':
        getAt(doc, parts, here);
        if (Array.isArray(parent)) parent[Number(last)] = clone(op.value);
        else parent[last] = clone(op.value);
        break;
      case 'remove':
        getAt(doc, parts, here);
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      default:
        throw new Error(`${here}: op ${op.op} is not supported`);
    }
  }
  return doc;
}

/**
 * Strategic merge for the simple cases: maps merge recursively, `null` deletes a key, lists whose
 * items all carry `name` (containers, env, ports, volumes, volumeMounts) merge by name, other lists
 * are replaced.
 */
export function strategicMerge(base: YamlValue, patch: YamlValue): YamlValue {
  if (!isObject(base) || !isObject(patch)) return clone(patch);
  const out: Record<string, YamlValue> = clone(base);
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key.startsWith('$setElementOrder')) throw new Error(`strategic merge directive ${key} is not supported`);
    if (value === null) delete out[key];
    else if (Array.isArray(value) && Array.isArray(out[key]) && mergeByName(out[key]) && mergeByName(value)) {
      const merged = [...out[key]];
      for (const item of value) {
        const i = merged.findIndex((m) => m.name === item.name);
        if (i >= 0) merged[i] = strategicMerge(merged[i], item);
        else merged.push(clone(item));
      }
      out[key] = merged;
    } else if (isObject(value) && isObject(out[key])) out[key] = strategicMerge(out[key], value);
    else out[key] = clone(value);
  }
  return out;
}

const mergeByName = (list: unknown[]): boolean => list.every((i) => isObject(i) && typeof i.name === 'string');

export function toYaml(objects: K8sObject[]): string {
  return objects.map((o) => YAML.stringify(o)).join('---\n');
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node -r @swc-node/register deploy/tools/kustomize.ts <kustomization dir>');
    process.exit(2);
  }
  process.stdout.write(toYaml(render(dir)));
}

export const DEPLOY_DIR = resolve(dirname(__filename), '..');
