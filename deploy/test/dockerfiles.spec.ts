// The Dockerfiles, checked statically (there is no Docker engine on the build machines): stages,
// user, health check, what is copied, and that the entrypoint each one runs exists in the sources.
// With an engine and STEVEDORE_DOCKER_BUILD=1 the images are also built.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigSchema } from '@stevedore/platform';
import { APPS, DEPLOY, REPO, must, rendered, stevedoreApp, stevedoreDeployments, podContainers, splitImage } from './manifests';
import type { YamlValue } from '../tools/kustomize';

interface Instruction {
  op: string;
  args: string;
  json?: string[];
  line: number;
}

/** Dockerfile syntax: comments, line continuations, the JSON (exec) form. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, ' ');
      i++;
      if (/^\s*#/.test(lines[i])) continue; // comments inside a continued instruction are dropped
      line += lines[i];
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`line ${start + 1}: not an instruction: ${line}`);
    const args = m[2].trim();
    let json: string[] | undefined;
    const jsonPart = /^(?:--\S+\s+)*(?:CMD\s+)?(\[.*\])$/.exec(args)?.[1];
    if (jsonPart) {
      try {
        json = JSON.parse(jsonPart);
      } catch {
        json = undefined;
      }
    }
    out.push({ op: m[1].toUpperCase(), args, json, line: start + 1 });
  }
  return out;
}

const dockerfiles = readdirSync(join(DEPLOY, 'docker')).filter((f) => f.endsWith('.Dockerfile'));
const CONFIG_KEYS = Object.keys(ConfigSchema.shape);

it('there is one Dockerfile per app', () => {
  expect(dockerfiles.map((f) => f.replace(/\.Dockerfile$/, '')).sort()).toEqual(Object.keys(APPS).sort());
  for (const app of Object.keys(APPS)) expect(existsSync(join(REPO, 'apps', app, 'project.json'))).toBe(true);
});

describe.each(Object.keys(APPS))('%s.Dockerfile', (app) => {
  const text = readFileSync(join(DEPLOY, 'docker', `${app}.Dockerfile`), 'utf8');
  const ins = parseDockerfile(text);
  const stages: Instruction[][] = [];
  for (const i of ins) {
    if (i.op === 'FROM') stages.push([]);
    if (stages.length === 0 && i.op !== 'ARG') throw new Error(`${app}.Dockerfile line ${i.line}: ${i.op} before the first FROM`);
    if (stages.length > 0) stages[stages.length - 1].push(i);
  }
  const runtime = stages[stages.length - 1];
  const one = (op: string, stage = runtime): Instruction => {
    const found = stage.filter((i) => i.op === op);
    expect({ op, count: found.length }).toEqual({ op, count: 1 });
    return found[0];
  };

  it('is multi-stage on node:20-slim, with production dependencies only', () => {
    const froms = ins.filter((i) => i.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f.args).toMatch(/^node:20-slim(@sha256:[0-9a-f]{64})?( AS [a-z][-a-z0-9]*)?$/i);
    const deps = stages.find((s) => s.some((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args)));
    expect(deps).toBeDefined();
    const npmCi = must(
      deps?.find((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args)),
      'npm ci',
    );
    expect(npmCi.args).toMatch(/--omit=dev\b/);
    // The root postinstall needs sources the deps stage does not copy.
    expect(npmCi.args).toMatch(/--ignore-scripts\b/);
    // The runtime stage takes node_modules from the deps stage and installs nothing itself.
    expect(runtime.some((i) => i.op === 'COPY' && /--from=deps\b/.test(i.args) && /node_modules/.test(i.args))).toBe(true);
    expect(runtime.filter((i) => i.op === 'RUN' && /\bnpm\b/.test(i.args))).toEqual([]);
    // What the app needs at run time: @swc-node/register compiles the sources on load.
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
    for (const d of ['@swc-node/register', '@swc/core']) expect(pkg.dependencies?.[d]).toBeDefined();
  });

  it('runs as a non-root user and has a HEALTHCHECK on /healthz with node fetch', () => {
    const user = one('USER').args;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const hc = one('HEALTHCHECK');
    expect(hc.json?.[0]).toBe('node');
    expect(hc.args).toMatch(/fetch\(/);
    expect(hc.args).toMatch(/\/healthz/);
    expect(hc.args).toMatch(/--interval=\S+/);
    // USER comes before CMD, so the process never starts as root.
    expect(runtime.indexOf(one('USER'))).toBeLessThan(runtime.indexOf(one('CMD')));
  });

  it('starts apps/<app>/src/main.ts, which exists, and copies only what exists', () => {
    const cmd = one('CMD').json;
    expect(cmd).toEqual(['node', '-r', '@swc-node/register', `apps/${app}/src/main.ts`]);
    expect(ins.some((i) => i.op === 'ENTRYPOINT')).toBe(false);
    const entry = join(REPO, 'apps', app, 'src', 'main.ts');
    if (!existsSync(entry)) throw new Error(`${app}.Dockerfile runs apps/${app}/src/main.ts, which does not exist`);
    expect(readFileSync(entry, 'utf8')).toMatch(
      APPS[app].target === 'all' ? /runTarget\('all'\)|startServer|runTarget/ : new RegExp(`runTarget\\('${APPS[app].target}'\\)`),
    );
    for (const c of ins.filter((i) => i.op === 'COPY' && !/--from=/.test(i.args))) {
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) expect({ copy: src, exists: existsSync(join(REPO, src)) }).toEqual({ copy: src, exists: true });
    }
    expect(runtime.some((i) => i.op === 'COPY' && i.args.startsWith(`apps/${app}/src `))).toBe(true);
    // The sources of other apps stay out of this image.
    for (const other of Object.keys(APPS).filter((a) => a !== app)) expect(text).not.toContain(`apps/${other}/`);
  });

  it('sets the target and port the manifests expect, and only ConfigSchema variables', () => {
    const env: Record<string, string> = {};
    for (const e of runtime.filter((i) => i.op === 'ENV')) {
      for (const m of e.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '');
    }
    expect(Object.keys(env).filter((k) => k !== 'NODE_ENV' && !CONFIG_KEYS.includes(k))).toEqual([]);
    expect(env.NODE_ENV).toBe('production');
    expect(env.STEVEDORE_TARGET).toBe(APPS[app].target);
    expect(env.HOST).toBe('0.0.0.0');
    expect(Number(env.PORT)).toBe(APPS[app].port);
    expect(one('EXPOSE').args).toBe(String(APPS[app].port));
    expect(ConfigSchema.safeParse(env).success).toBe(true);
  });

  it('is what the Deployments run: same image name, target and port', () => {
    for (const overlay of ['dev', 'production'] as const) {
      for (const d of stevedoreDeployments(rendered(overlay)).filter((x) => stevedoreApp(x) === app)) {
        const [c] = podContainers(d);
        expect(splitImage(c.image).repo).toMatch(new RegExp(`(^|/)(stevedore/|stevedore-)${app}$`));
        expect(c.env.find((e: YamlValue) => e.name === 'STEVEDORE_TARGET')?.value).toBe(APPS[app].target);
        expect(c.ports.find((p: YamlValue) => p.name === 'http')?.containerPort).toBe(APPS[app].port);
        // The Deployment's securityContext agrees with the image's user (node = uid 1000).
        expect(d.spec.template.spec.securityContext.runAsUser).toBe(one('USER').args === 'node' ? 1000 : Number(one('USER').args));
      }
    }
  });
});

describe('.dockerignore', () => {
  const ignore = readFileSync(join(DEPLOY, 'docker', '.dockerignore'), 'utf8');
  const patterns = ignore.split('\n').filter((l) => l.trim() && !l.startsWith('#'));

  it('keeps node_modules, build output, git and tests out of the context, and nothing the images copy', () => {
    for (const p of ['**/node_modules', '**/dist', '.git', '**/*.spec.ts']) expect(patterns).toContain(p);
    const copied = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json', '.swcrc', 'libs', 'apps'];
    for (const p of patterns) expect({ p, ignoresCopied: copied.includes(p.replace(/^\/|\/$/g, '')) }).toEqual({ p, ignoresCopied: false });
    // No source directory that the apps load is named like an ignored directory.
    const find = execFileSync(
      'find',
      [
        'libs',
        'apps',
        '-path',
        '*/src/*',
        '-type',
        'd',
        '(',
        '-name',
        'test',
        '-o',
        '-name',
        'data',
        '-o',
        '-name',
        'fixtures',
        '-o',
        '-name',
        'tmp',
        ')',
      ],
      {
        cwd: REPO,
        encoding: 'utf8',
      },
    );
    expect(find.trim()).toBe('');
  });

  it('each <app>.Dockerfile.dockerignore (BuildKit reads it beside the Dockerfile) is the same file', () => {
    for (const app of Object.keys(APPS))
      expect(readFileSync(join(DEPLOY, 'docker', `${app}.Dockerfile.dockerignore`), 'utf8')).toBe(ignore);
  });
});

it(
  'builds the images when a Docker engine is present (STEVEDORE_DOCKER_BUILD=1), says so when not',
  () => {
    let engine: string | undefined;
    try {
      engine = execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 15000,
      }).trim();
    } catch {
      engine = undefined;
    }
    if (!engine) {
      console.warn('no Docker engine here: the Dockerfiles were checked statically only');
      return;
    }
    if (process.env.STEVEDORE_DOCKER_BUILD !== '1') {
      console.warn(`Docker ${engine} is present; set STEVEDORE_DOCKER_BUILD=1 to build the images in this test`);
      return;
    }
    for (const app of Object.keys(APPS)) {
      execFileSync('docker', ['build', '-f', join('deploy', 'docker', `${app}.Dockerfile`), '-t', `stevedore/${app}:test`, '.'], {
        cwd: REPO,
        stdio: 'inherit',
        timeout: 20 * 60_000,
      });
    }
  },
  120 * 60_000,
);
