// Validation of rendered objects against the upstream schemas: Kubernetes' OpenAPI (the
// `kubernetes-models` package, generated from it) and KEDA's CRDs (`@kubernetes-models/keda`).
// Each object is built with the class of its apiVersion/kind and validated; a kind no package knows
// is an error, never skipped.
//
// Kubernetes' schemas allow unknown fields (the API server drops them unless asked for strict field
// validation, as `kubectl apply --validate=strict` does), so a misspelt field would pass them. The
// generated validators read every property their schema declares, and every key of a map: running
// one over a proxy that records the keys read finds the keys no schema mentions, as strict field
// validation would.
import * as kedaModels from '@kubernetes-models/keda';
import * as kubernetesModels from 'kubernetes-models';
import type { K8sObject, YamlValue } from '../tools/kustomize';

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: YamlValue): { validate(): void };
  prototype: { validate(): void };
}

const isModelClass = (v: unknown): v is ModelClass =>
  typeof v === 'function' && typeof (v as ModelClass).apiVersion === 'string' && typeof (v as ModelClass).kind === 'string';

/** Every model class the packages export, by `apiVersion/kind`. */
export const MODELS: ReadonlyMap<string, ModelClass> = (() => {
  const out = new Map<string, ModelClass>();
  const walk = (ns: unknown, depth: number): void => {
    for (const v of Object.values(ns as Record<string, unknown>)) {
      if (isModelClass(v)) out.set(`${v.apiVersion}/${v.kind}`, v);
      else if (typeof v === 'object' && v !== null && depth < 3) walk(v, depth + 1);
    }
  };
  walk(kubernetesModels, 0);
  walk(kedaModels, 0);
  return out;
})();

/** Paths (JSON pointer) of the keys the schema's validator never looked at. */
function unknownFields(cls: ModelClass, object: K8sObject): string[] {
  const read = new Map<object, Set<PropertyKey>>();
  const paths = new Map<object, string>();
  const proxies = new WeakMap<object, object>();
  const wrap = (v: unknown, path: string): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    const known = proxies.get(v);
    if (known) return known;
    read.set(v, new Set());
    paths.set(v, path);
    const p = new Proxy(v, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof key !== 'string' || !Object.prototype.hasOwnProperty.call(target, key)) return value;
        read.get(target)!.add(key);
        return wrap(value, `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      },
    });
    proxies.set(v, p);
    return p;
  };
  const data = structuredClone(object);
  try {
    cls.prototype.validate.call(wrap(data, ''));
  } catch {
    // Schema errors are reported by validate() on the model itself.
  }
  const out: string[] = [];
  for (const [target, keys] of read) {
    if (Array.isArray(target)) continue;
    for (const k of Object.keys(target)) if (!keys.has(k)) out.push(`${paths.get(target)}/${k}`);
  }
  return out;
}

/** The schema errors of one object (empty when it is valid). */
export function schemaErrors(object: K8sObject): string[] {
  const cls = MODELS.get(`${object.apiVersion}/${object.kind}`);
  if (!cls) return [`${object.apiVersion} ${object.kind}: no schema for this apiVersion and kind`];
  const errors: string[] = [];
  try {
    new cls(object).validate();
  } catch (e) {
    errors.push((e as Error).message);
  }
  for (const f of unknownFields(cls, object)) errors.push(`${f}: unknown field`);
  return errors;
}
