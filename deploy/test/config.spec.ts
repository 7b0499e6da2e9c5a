// What the Deployments give the apps is what the apps read: every variable is a key of the apps'
// validated configuration (ConfigSchema), the environment each container starts with passes
// loadConfig and the target's own wiring (modulesFor), and the ports, probes, URLs, queue names and
// hosts in the manifests agree with that configuration.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigSchema, QueueNames, TARGETS, loadConfig, redisTarget } from '@stevedore/platform';
import { modulesFor } from '@stevedore/server';
import type { YamlValue } from '../tools/kustomize';
import {
  APPS,
  DEPLOY,
  EXTERNAL_SECRETS,
  OVERLAYS,
  SPLIT_APPS,
  type K8sObject,
  containerEnv,
  find,
  get,
  must,
  podContainers,
  podLabels,
  rendered,
  selects,
  stevedoreApp,
  stevedoreDeployments,
  workloads,
} from './manifests';

const CONFIG_KEYS = Object.keys(ConfigSchema.shape);
const STEVEDORE_CONFIG_OBJECTS = ['stevedore-config', 'stevedore-secrets'];

/** A value of the right shape for an externally created secret key. */
const placeholder = (_secret: string, key: string): string =>
  key === 'STEVEDORE_TOKEN_KEY'
    ? '-----BEGIN PRIVATE KEY-----\nplaceholder\n-----END PRIVATE KEY-----\n'
    : `placeholder-${key.toLowerCase()}`;

/** The Service (and its port) a URL's host:port reaches, and the workloads behind it. */
function serviceFor(objects: K8sObject[], url: string): { service: K8sObject; port: YamlValue; pods: K8sObject[] } {
  const u = new URL(url);
  const [name, ns] = u.hostname.split('.');
  const service = find(objects, 'Service', name);
  if (!service) throw new Error(`${url}: no Service ${name}`);
  if (ns !== undefined) expect(ns).toBe(service.metadata.namespace);
  const portNumber = Number(u.port || { 'http:': 80, 'https:': 443, 'redis:': 6379 }[u.protocol]);
  const port = service.spec.ports.find((p: YamlValue) => p.port === portNumber);
  if (!port) throw new Error(`${url}: Service ${name} has no port ${portNumber}`);
  return { service, port, pods: workloads(objects).filter((w) => selects({ matchLabels: service.spec.selector }, podLabels(w))) };
}

/**
 * The workloads REDIS_URL reaches: one Service's pods, or, for Sentinel, the pods each sentinel
 * address names (`<statefulset>-<n>.<headless service>`), which must exist and run a sentinel.
 */
function redisPods(objects: K8sObject[], url: string): string[] {
  const target = redisTarget(url);
  // The manifests run one Redis or Sentinel; a Redis Cluster is not deployed by them.
  if (target.mode === 'cluster') throw new Error(`REDIS_URL ${url} is a Redis Cluster, which these manifests do not run`);
  if (target.mode === 'standalone') return serviceFor(objects, `redis://${target.host}:${target.port}`).pods.map((w) => w.metadata.name);
  const names = new Set<string>();
  for (const { host, port } of target.sentinels) {
    const [pod, serviceName] = host.split('.');
    const sts = must(
      objects.find((o) => o.kind === 'StatefulSet' && o.spec.serviceName === serviceName && pod.startsWith(`${o.metadata.name}-`)),
      `StatefulSet behind ${host}`,
    );
    expect(Number(pod.slice(sts.metadata.name.length + 1))).toBeLessThan(sts.spec.replicas);
    const svc = get(objects, 'Service', serviceName);
    expect(svc.spec.clusterIP).toBe('None');
    const svcPort = must(
      svc.spec.ports.find((p: YamlValue) => p.port === port),
      `${serviceName} port ${port}`,
    );
    const sentinel = podContainers(sts).find((c) => (c.ports ?? []).some((p: YamlValue) => p.name === svcPort.targetPort));
    expect(sentinel?.args).toContain('--sentinel');
    names.add(sts.metadata.name);
  }
  return [...names];
}

it('ConfigSchema still has the variables the manifests are built around', () => {
  for (const k of [
    'STEVEDORE_TARGET',
    'HOST',
    'PORT',
    'REDIS_URL',
    'STEVEDORE_REDIS_PREFIX',
    'STEVEDORE_STORAGE',
    'S3_ENDPOINT',
    'STEVEDORE_PUBLIC_URL',
  ]) {
    expect(CONFIG_KEYS).toContain(k);
  }
  for (const app of Object.values(APPS)) expect(TARGETS).toContain(app.target);
});

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  const objects = rendered(overlay);
  const deployments = stevedoreDeployments(objects);
  const config = get(objects, 'ConfigMap', 'stevedore-config');

  it('deploys each split app exactly once', () => {
    expect(deployments.map(stevedoreApp).sort()).toEqual(Object.keys(SPLIT_APPS).sort());
  });

  it('the ConfigMap and Secret hold only ConfigSchema variables', () => {
    for (const name of STEVEDORE_CONFIG_OBJECTS) {
      for (const o of objects.filter((x) => x.metadata.name === name && (x.kind === 'ConfigMap' || x.kind === 'Secret'))) {
        const keys = Object.keys({ ...(o.data ?? {}), ...(o.stringData ?? {}) });
        expect(keys.length).toBeGreaterThan(0);
        expect({ object: `${o.kind} ${name}`, unknown: keys.filter((k) => !CONFIG_KEYS.includes(k)) }).toEqual({
          object: `${o.kind} ${name}`,
          unknown: [],
        });
      }
    }
    if (EXTERNAL_SECRETS[overlay].includes('stevedore-secrets')) expect(find(objects, 'Secret', 'stevedore-secrets')).toBeUndefined();
  });

  it.each(Object.keys(SPLIT_APPS))('%s: env names are ConfigSchema keys, and the env passes loadConfig and the target wiring', (app) => {
    const d = must(
      deployments.find((x) => stevedoreApp(x) === app),
      `Deployment of ${app}`,
    );
    expect(d).toBeDefined();
    const [c, ...others] = podContainers(d);
    expect(others).toHaveLength(0);
    const { env, names } = containerEnv(objects, c as { env?: YamlValue[]; envFrom?: YamlValue[] }, placeholder);
    expect({ app, unknown: names.filter((n) => !CONFIG_KEYS.includes(n)) }).toEqual({ app, unknown: [] });
    // A variable set twice is a mistake waiting to happen (the later one wins silently).
    const direct = (c.env ?? []).map((e: YamlValue) => e.name);
    expect(direct.filter((n: string, i: number) => direct.indexOf(n) !== i)).toEqual([]);

    const parsed = loadConfig(env);
    const port = SPLIT_APPS[app as keyof typeof SPLIT_APPS];
    expect(parsed.STEVEDORE_TARGET).toBe(APPS[app].target);
    expect(parsed.PORT).toBe(port);
    expect(parsed.HOST).toBe('0.0.0.0'); // the default 127.0.0.1 would fail every probe
    expect(parsed.STEVEDORE_STORAGE).toBe('s3'); // replicas share nothing but S3 and Redis
    // The wiring of the target refuses a missing service URL; it must accept this environment.
    expect(() => modulesFor(parsed.STEVEDORE_TARGET, parsed)).not.toThrow();

    // Ports: the container, the probes and Prometheus all use the PORT the app listens on.
    const http = (c.ports ?? []).find((p: YamlValue) => p.name === 'http');
    expect(http?.containerPort).toBe(port);
    expect(c.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    // /readyz waits up to 5 s on storage: the probe must wait longer.
    expect(c.readinessProbe.timeoutSeconds).toBeGreaterThan(5);
    expect(d.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(port),
      'prometheus.io/path': '/metrics',
    });

    // Every URL points at a Service of this deployment that reaches the right pods.
    expect(redisPods(objects, parsed.REDIS_URL)).toEqual(['redis']);
    const s3 = serviceFor(objects, must(parsed.S3_ENDPOINT, 'S3_ENDPOINT'));
    expect(s3.pods.map((w) => w.metadata.name)).toEqual(['minio']);
    for (const [url, target] of [
      [parsed.STEVEDORE_BLOB_SERVICE_URL, 'blob-service'],
      [parsed.STEVEDORE_METADATA_SERVICE_URL, 'metadata-service'],
    ] as const) {
      if (!url) continue;
      const { port: svcPort, pods } = serviceFor(objects, url);
      expect(pods.map(stevedoreApp)).toEqual([target]);
      const targetPort = podContainers(pods[0])[0].ports.find(
        (p: YamlValue) => p.name === svcPort.targetPort || p.containerPort === svcPort.targetPort,
      );
      expect(targetPort.containerPort).toBe(SPLIT_APPS[target]);
    }
    if (app === 'gateway') {
      // Token auth needs a signing key every replica shares (or, in dev's single gateway, its own).
      const tokenKey = c.env.find((e: YamlValue) => e.name === 'STEVEDORE_TOKEN_KEY');
      expect(tokenKey?.valueFrom?.secretKeyRef?.name).toBe('stevedore-secrets');
      if (overlay === 'production') {
        expect(tokenKey.valueFrom.secretKeyRef.optional).not.toBe(true);
        expect(parsed.STEVEDORE_AUTH).toBe(true);
      }
      expect(c.env.some((e: YamlValue) => e.name === 'STEVEDORE_ADMIN_PASSWORD' && e.valueFrom?.secretKeyRef)).toBe(true);
    }
    // Secrets are never plain values in a Deployment.
    for (const e of c.env ?? []) {
      if (/KEY|SECRET|TOKEN|PASSWORD/.test(e.name))
        expect({ env: e.name, fromSecret: !!e.valueFrom?.secretKeyRef }).toEqual({ env: e.name, fromSecret: true });
    }
  });

  it('KEDA scales commit-worker on the BullMQ wait list of the commit queue, in the Redis the apps use', () => {
    const so = get(objects, 'ScaledObject', 'commit-worker');
    expect(so.spec.scaleTargetRef.name).toBe(
      must(
        deployments.find((d) => stevedoreApp(d) === 'commit-worker'),
        'commit-worker Deployment',
      ).metadata.name,
    );
    const parsed = ConfigSchema.parse(config.data);
    const [trigger, ...rest] = so.spec.triggers;
    expect(rest).toHaveLength(0);
    expect(trigger.metadata.listName).toBe(`${parsed.STEVEDORE_REDIS_PREFIX}:${QueueNames.commit}:wait`);
    expect(Number(trigger.metadata.listLength)).toBeGreaterThan(0);
    // KEDA's operator lives in another namespace: the address must be fully qualified and reach
    // the same Service as REDIS_URL.
    const target = redisTarget(parsed.REDIS_URL);
    if (target.mode === 'cluster') throw new Error('these manifests run no Redis Cluster (KEDA would need its redis-cluster scaler)');
    const fq = (host: string) => `${host}.${so.metadata.namespace}.svc.cluster.local`;
    if (target.mode === 'sentinel') {
      // The same sentinels and master name as the apps.
      expect(trigger.type).toBe('redis-sentinel');
      expect(trigger.metadata.addresses.split(',')).toEqual(target.sentinels.map((n) => `${fq(n.host)}:${n.port}`));
      expect(trigger.metadata.sentinelMaster).toBe(target.masterName);
      expect(trigger.metadata.address).toBeUndefined();
    } else {
      expect(trigger.type).toBe('redis');
      expect(trigger.metadata.address).toBe(`${fq(target.host)}:${target.port}`);
    }
    expect(Number(trigger.metadata.databaseIndex ?? 0)).toBe(target.db);
  });

  it.each(['stevedore', 'stevedore-uploads'])(
    'Ingress %s: the host is STEVEDORE_PUBLIC_URL, with TLS when the URL is https, and takes multi-GB uploads',
    (name) => {
      const ing = get(objects, 'Ingress', name);
      const publicUrl = new URL(must(ConfigSchema.parse(config.data).STEVEDORE_PUBLIC_URL, 'STEVEDORE_PUBLIC_URL'));
      expect(ing.spec.rules.map((r: YamlValue) => r.host)).toEqual([publicUrl.hostname]);
      const backend = ing.spec.rules[0].http.paths[0].backend.service;
      const gateway = serviceFor(
        objects,
        `http://${backend.name}:${get(objects, 'Service', backend.name).spec.ports.find((p: YamlValue) => p.name === backend.port.name).port}`,
      );
      expect(gateway.pods.map(stevedoreApp)).toEqual(['gateway']);
      if (publicUrl.protocol === 'https:') {
        expect(ing.spec.tls?.flatMap((t: YamlValue) => t.hosts)).toContain(publicUrl.hostname);
        expect(overlay).toBe('production');
      } else {
        expect(ing.spec.tls).toBeUndefined();
        expect(overlay).toBe('dev');
      }
      const a = must(ing.metadata.annotations, 'Ingress annotations');
      expect(ing.spec.ingressClassName).toBe('nginx');
      expect(a['nginx.ingress.kubernetes.io/proxy-body-size']).toBe('0');
      expect(a['nginx.ingress.kubernetes.io/proxy-request-buffering']).toBe('off');
      expect(a['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
      expect(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(600);
      expect(Number(a['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(600);
      if (name === 'stevedore-uploads') {
        // Upload sessions hashed by path (no query) onto one gateway; a regex that matches a session's
        // URL and not the POST that opens one, nor any other route.
        expect(a['nginx.ingress.kubernetes.io/upstream-hash-by']).toBe('$uri');
        expect(a['nginx.ingress.kubernetes.io/use-regex']).toBe('true');
        const re = new RegExp(ing.spec.rules[0].http.paths[0].path);
        expect(ing.spec.rules[0].http.paths).toHaveLength(1);
        expect(['/v2/team/app/blobs/uploads/3f1c-9a', '/v2/a/b/c/blobs/uploads/x'].map((u) => re.test(u))).toEqual([true, true]);
        expect(
          ['/v2/team/app/blobs/uploads/', '/v2/team/app/blobs/sha256:ab', '/v2/team/app/manifests/uploads'].map((u) => re.test(u)),
        ).toEqual([false, false, false]);
        // The certificate is the main Ingress's: cert-manager is asked once for the host.
        expect(a['cert-manager.io/cluster-issuer']).toBeUndefined();
      } else expect(a['nginx.ingress.kubernetes.io/upstream-hash-by']).toBeUndefined();
    },
  );

  it('MinIO runs distributed on 4 pods whose credentials are the apps S3 credentials; Redis keeps an AOF', () => {
    const minio = get(objects, 'StatefulSet', 'minio');
    expect(minio.spec.replicas).toBe(4);
    const [mc] = podContainers(minio);
    const pool = mc.args.find((a: string) => a.startsWith('http://'));
    expect(pool).toBe(`http://minio-{0...3}.${minio.spec.serviceName}.$(POD_NAMESPACE).svc.cluster.local/data`);
    const fromSecret = (name: string) => mc.env.find((e: YamlValue) => e.name === name)?.valueFrom?.secretKeyRef;
    expect(fromSecret('MINIO_ROOT_USER')).toMatchObject({ name: 'stevedore-secrets', key: 'S3_ACCESS_KEY' });
    expect(fromSecret('MINIO_ROOT_PASSWORD')).toMatchObject({ name: 'stevedore-secrets', key: 'S3_SECRET_KEY' });
    expect(mc.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });

    const redis = get(objects, 'StatefulSet', 'redis');
    const conf: string = get(objects, 'ConfigMap', 'redis-config').data['redis.conf'];
    expect(conf).toMatch(/^appendonly yes$/m);
    expect(conf).toMatch(/^maxmemory-policy noeviction$/m); // BullMQ requires it
    expect(redis.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    const rc = must(
      redis.spec.template.spec.containers.find((c: YamlValue) => c.name === 'redis'),
      'redis container',
    );
    expect(rc.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    if (overlay === 'production') {
      // Sentinel: three pods, one per node, a PDB that keeps two, and every pod's sentinel.
      expect(redis.spec.replicas).toBe(3);
      expect(redis.spec.template.spec.containers.map((c: YamlValue) => c.name)).toEqual(['redis', 'sentinel']);
      expect(rc.args[0]).toBe('/conf/redis.conf'); // written by the init container from redis.conf
      expect(redis.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).toBe(
        'kubernetes.io/hostname',
      );
      expect(get(objects, 'PodDisruptionBudget', 'redis').spec).toEqual({
        maxUnavailable: 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': 'redis' } },
      });
      expect(get(objects, 'Service', redis.spec.serviceName).spec.publishNotReadyAddresses).toBe(true);
    } else {
      expect(redis.spec.replicas).toBe(1);
    }
  });
});

it('the README tells how to create every key production reads from stevedore-secrets', () => {
  const readme = readFileSync(join(DEPLOY, 'README.md'), 'utf8');
  const objects = rendered('production');
  const keys = new Set<string>();
  for (const w of workloads(objects)) {
    for (const c of podContainers(w))
      for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef?.name === 'stevedore-secrets') keys.add(e.valueFrom.secretKeyRef.key);
  }
  const create = readme.slice(readme.indexOf('kubectl -n stevedore create secret generic stevedore-secrets'));
  expect(create.length).toBeLessThan(readme.length);
  const block = create.slice(0, create.indexOf('```'));
  for (const k of keys) expect({ key: k, documented: block.includes(`${k}=`) }).toEqual({ key: k, documented: true });
});

it('the metrics the README says to watch are metrics the apps define', () => {
  const readme = readFileSync(join(DEPLOY, 'README.md'), 'utf8');
  const named = [...new Set(readme.match(/\bstevedore_[a-z_]+\b/g) ?? [])];
  expect(named.length).toBeGreaterThan(5);
  const file = join(DEPLOY, '..', 'libs', 'platform', 'src', 'metrics.ts');
  if (!existsSync(file)) {
    console.warn(`${file} is missing: the README's metric names were not checked`);
    return;
  }
  const source = readFileSync(file, 'utf8');
  expect(named.filter((n) => !source.includes(`'${n}'`))).toEqual([]);
});
