// Every object every overlay renders, validated against the upstream Kubernetes and KEDA schemas
// (deploy/test/schemas.ts); and proof that the validation rejects what it should.
import { type K8sObject, type YamlValue } from '../tools/kustomize';
import { OVERLAYS, rendered } from './manifests';
import { MODELS, schemaErrors } from './schemas';

const deployment = (): K8sObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'x', labels: { 'app.kubernetes.io/name': 'x' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'x' } },
    template: {
      metadata: { labels: { app: 'x' } },
      spec: {
        containers: [
          {
            name: 'x',
            image: 'x:1',
            ports: [{ name: 'http', containerPort: 80 }],
            readinessProbe: { httpGet: { path: '/readyz', port: 'http' } },
            resources: { requests: { cpu: '100m', memory: '64Mi' } },
          },
        ],
      },
    },
  },
});

describe('schema validation (deploy/test/schemas.ts)', () => {
  it('knows the Kubernetes kinds and KEDA ScaledObject', () => {
    for (const k of [
      'apps/v1/Deployment',
      'policy/v1/PodDisruptionBudget',
      'autoscaling/v2/HorizontalPodAutoscaler',
      'keda.sh/v1alpha1/ScaledObject',
    ])
      expect(MODELS.has(k)).toBe(true);
  });

  it('accepts a valid Deployment', () => {
    expect(schemaErrors(deployment())).toEqual([]);
  });

  it('rejects a string replicas, a missing required field, an unknown field and an unknown kind', () => {
    const stringReplicas = deployment();
    stringReplicas.spec.replicas = '3';
    expect(schemaErrors(stringReplicas).join('\n')).toMatch(/replicas must be integer/);

    const noImageName = deployment();
    delete noImageName.spec.template.spec.containers[0].name;
    expect(schemaErrors(noImageName).join('\n')).toMatch(/containers\/0 must have required property name/);

    const misspelt = deployment();
    misspelt.spec.template.spec.containers[0].readinesProbe = misspelt.spec.template.spec.containers[0].readinessProbe;
    misspelt.spec.strategy = { type: 'RollingUpdate', rollingUpdat: { maxSurge: 1 } };
    expect(schemaErrors(misspelt)).toEqual([
      '/spec/strategy/rollingUpdat: unknown field',
      '/spec/template/spec/containers/0/readinesProbe: unknown field',
    ]);

    const wrongVersion = { ...deployment(), apiVersion: 'extensions/v1' };
    expect(schemaErrors(wrongVersion)).toEqual(['extensions/v1 Deployment: no schema for this apiVersion and kind']);
    const crd = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    expect(schemaErrors(crd)).toEqual(['example.com/v1 Widget: no schema for this apiVersion and kind']);
  });

  it('does not count map keys (labels, data) as unknown fields', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', annotations: { 'a/b': 'c' } }, data: { anything: 'x' } };
    expect(schemaErrors(cm)).toEqual([]);
  });
});

describe.each(OVERLAYS)('overlay %s against the upstream schemas', (overlay) => {
  it('every object is valid', () => {
    const objects = rendered(overlay);
    expect(objects.length).toBeGreaterThan(20);
    const errors = objects.flatMap((o) => schemaErrors(o).map((e) => `${o.kind}/${o.metadata.name}: ${e}`));
    expect(errors).toEqual([]);
  });

  it('would catch a broken field deep in a rendered object (the check reaches every object)', () => {
    for (const o of rendered(overlay)) {
      const broken = structuredClone(o);
      (broken.metadata as YamlValue).nmae = 'x';
      expect(schemaErrors(broken)).toEqual(['/metadata/nmae: unknown field']);
    }
    const w = rendered(overlay).find((o) => o.kind === 'Deployment')!;
    w.spec.template.spec.containers[0].livenessProbe.periodSecond = 5;
    w.spec.template.spec.containers[0].resources.limits.memory = true;
    const errors = schemaErrors(w).join('\n');
    expect(errors).toMatch(/periodSecond: unknown field/);
    expect(errors).toMatch(/limits\/memory must be/);
  });
});
