// `pull` and `push` against real registries: Debian's docker-registry as the upstream that short
// names come from, and a second one as the push target, with Stevedore between them.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { http, startReferenceRegistry, startStevedore, type RunningRegistry, type StevedoreUnderTest } from '@stevedore/testing';
import { ok, runCli } from './cli-harness';

jest.setTimeout(120_000);

let upstream: RunningRegistry;
let target: RunningRegistry;
let sut: StevedoreUnderTest;
let dir: string;
let env: Record<string, string>;
let pushedDigest: string;

const cli = (args: string[]) => runCli(args, { env });

const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** Monolithic blob pushes and a manifest PUT to a plain registry (its upload Location is absolute). */
async function pushTo(base: string, name: string, tag: string, layers: Buffer[]): Promise<string> {
  const blob = async (b: Buffer) => {
    const post = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    const loc = new URL(post.headers.get('location') as string, base);
    loc.searchParams.set('digest', sha256(b));
    const put = await fetch(loc, { method: 'PUT', body: b, headers: { 'content-type': 'application/octet-stream' } });
    if (put.status !== 201) throw new Error(`blob PUT ${put.status}`);
    return { digest: sha256(b), size: b.length };
  };
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: layers.map(sha256) },
      config: { Cmd: ['/bin/sh'] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...(await blob(config)) },
      layers: await Promise.all(layers.map(async (l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...(await blob(l)) }))),
    }),
  );
  const put = await fetch(`${base}/v2/${name}/manifests/${tag}`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  if (put.status !== 201) throw new Error(`manifest PUT ${put.status}: ${await put.text()}`);
  return sha256(manifest);
}

beforeAll(async () => {
  upstream = await startReferenceRegistry();
  target = await startReferenceRegistry();
  pushedDigest = await pushTo(upstream.url, 'library/busybox', 'latest', [Buffer.from('layer one'), Buffer.alloc(300_000, 7)]);
  // The upstream admin API needs an access guard, which is not wired yet: run with auth off.
  sut = await startStevedore({ extraEnv: { STEVEDORE_AUTH: 'false' } });
  for (const body of [
    { id: 'hub', url: upstream.url, prefixes: ['docker.io'], default: true },
    { id: 'backup', url: target.url },
  ]) {
    const r = await http(sut.url, 'POST', '/api/v1/upstreams', JSON.stringify(body), { 'content-type': 'application/json' });
    if (r.status !== 201) throw new Error(`upstream ${body.id}: ${r.status} ${r.body}`);
  }
  dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-cli-reg-'));
  env = { STEVEDORE_HOST: sut.url, STEVEDORE_CONFIG: path.join(dir, 'config.json') };
});

afterAll(async () => {
  await sut?.stop();
  await upstream?.stop();
  await target?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('pull and push', () => {
  it('pull busybox fetches the manifest and every blob through the platform', async () => {
    const r = ok(await cli(['pull', 'busybox']));
    expect(r.stdout).toBe(
      `Using default tag: latest\nlatest: Pulling from busybox\nDigest: ${pushedDigest}\nStatus: Image is up to date for busybox:latest\nbusybox:latest\n`,
    );
    expect(r.stderr).toMatch(/Pulling/);
    expect(ok(await cli(['inspect', '--format', '{{.Descriptor.digest}}', 'busybox'])).stdout.trim()).toBe(pushedDigest);
  });

  it('push copies a local image to an upstream as a replication job', async () => {
    const r = ok(await cli(['push', 'busybox:latest', 'backup/team/bb:v1']));
    expect(r.stdout.trim()).toMatch(new RegExp(`: digest: ${pushedDigest}$`));
    const m = await fetch(`${target.url}/v2/team/bb/manifests/v1`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(m.status).toBe(200);
    expect(m.headers.get('docker-content-digest')).toBe(pushedDigest);
  });

  it('push --detach prints the job id; an unknown upstream is one error line', async () => {
    const r = ok(await cli(['push', '-d', 'busybox:latest', '--to', 'backup/team/bb:v2']));
    expect(r.stdout.trim()).toMatch(/^\S+$/);
    const bad = await cli(['pull', 'nope/missing:1']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^Error: .+\([A-Z_]+\)/);
  });
});
