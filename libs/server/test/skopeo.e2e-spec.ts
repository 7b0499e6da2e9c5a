// Real clients against Stevedore: skopeo copies an image built on disk in and out (digests
// identical), inspects, lists tags, deletes; docker-archive in and out; a two-platform index;
// an artifact found through the referrers API.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { buildLayout, policyFile } from '@stevedore/testing';
import { OCI_INDEX, OCI_MANIFEST, http, pushImage, sha256 } from '@stevedore/testing';

const run = promisify(execFile);
jest.setTimeout(180_000);

describe('skopeo against Stevedore', () => {
  let s: StevedoreUnderTest;
  let dir: string;
  let host: string;
  let skopeo: (...args: string[]) => Promise<string>;

  beforeAll(async () => {
    s = await startStevedore();
    host = s.url.replace('http://', '');
    dir = mkdtempSync(path.join(os.tmpdir(), 'skopeo-e2e-'));
    const policy = policyFile(dir);
    const creds = `${s.admin.user}:${s.admin.password}`;
    skopeo = async (...args: string[]) => {
      const withCreds = args.map((a) => a);
      const [verb] = withCreds;
      const credFlags =
        verb === 'copy'
          ? ['--src-creds', creds, '--dest-creds', creds, '--src-tls-verify=false', '--dest-tls-verify=false']
          : ['--creds', creds, '--tls-verify=false'];
      const r = await run('skopeo', ['--policy', policy, verb, ...credFlags, ...withCreds.slice(1)], {
        env: { ...process.env, TMPDIR: dir },
        maxBuffer: 64 << 20,
      });
      return r.stdout;
    };
  });
  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await s?.stop();
  });

  it('copies a multi-layer image in and back out with identical digests', async () => {
    const src = buildLayout(path.join(dir, 'src'), 'v1', [
      { 'etc/os-release': 'stevedore' },
      { 'usr/bin/tool': Buffer.alloc(200_000, 7) },
      { 'home/html/index.html': '<h1>hi</h1>' },
    ]);
    await skopeo('copy', `oci:${src.dir}:v1`, `docker://${host}/library/multi:v1`);
    const inspect = JSON.parse(await skopeo('inspect', `docker://${host}/library/multi:v1`));
    expect(inspect.Digest).toBe(src.manifestDigest);
    expect(inspect.Layers).toEqual(src.layerDigests);
    const out = path.join(dir, 'out');
    await skopeo('copy', `docker://${host}/library/multi:v1`, `oci:${out}:v1`);
    const index = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(src.manifestDigest);
    for (const l of src.layerDigests) {
      const bytes = readFileSync(path.join(out, 'blobs', 'sha256', l.slice(7)));
      expect(sha256(bytes)).toBe(l);
    }
  });

  it('lists tags and deletes by digest', async () => {
    const src = buildLayout(path.join(dir, 'tags'), 'a');
    await skopeo('copy', `oci:${src.dir}:a`, `docker://${host}/team/tags:a`);
    await skopeo('copy', `oci:${src.dir}:a`, `docker://${host}/team/tags:b`);
    const tags = JSON.parse(await skopeo('list-tags', `docker://${host}/team/tags`));
    expect(tags.Tags.sort()).toEqual(['a', 'b']);
    await skopeo('delete', `docker://${host}/team/tags@${src.manifestDigest}`);
    await expect(skopeo('inspect', `docker://${host}/team/tags:a`)).rejects.toThrow();
    const after = await http(s.url, 'GET', '/v2/team/tags/tags/list');
    expect(after.json().tags).toEqual([]);
  });

  it('copies docker-archive in and out', async () => {
    const src = buildLayout(path.join(dir, 'arch-src'), 'x', [{ 'a.txt': 'archive layer' }]);
    const archive = path.join(dir, 'in.tar');
    await skopeo('copy', `oci:${src.dir}:x`, `docker-archive:${archive}:arch/img:x`);
    await skopeo('copy', `docker-archive:${archive}`, `docker://${host}/arch/img:x`);
    const inspect = JSON.parse(await skopeo('inspect', `docker://${host}/arch/img:x`));
    expect(inspect.Layers).toHaveLength(1);
    const out = path.join(dir, 'out.tar');
    await skopeo('copy', `docker://${host}/arch/img:x`, `docker-archive:${out}:arch/img:x`);
    // A docker-archive holds uncompressed layers, so its layer digests are the image's diff_ids.
    const back = JSON.parse(await skopeo('inspect', `docker-archive:${out}`));
    expect(back.Layers).toEqual(src.diffIds);
  });

  it('serves an image index with two platforms, and skopeo picks each', async () => {
    // Real gzip layers: skopeo re-checks compression and would rewrite a manifest that lied.
    const push = async (arch: string) => {
      const l = buildLayout(path.join(dir, `plat-${arch}`), arch, [{ [`etc/${arch}`]: arch }], { Cmd: [arch] });
      await skopeo('copy', `oci:${l.dir}:${arch}`, `docker://${host}/multi/arch:${arch}-only`);
      const manifest = readFileSync(path.join(l.dir, 'blobs', 'sha256', l.manifestDigest.slice(7)));
      return { digest: l.manifestDigest, manifest };
    };
    const amd = await push('amd64');
    const arm = await push('arm64');
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: amd.digest, size: amd.manifest.length, platform: { architecture: 'amd64', os: 'linux' } },
          { mediaType: OCI_MANIFEST, digest: arm.digest, size: arm.manifest.length, platform: { architecture: 'arm64', os: 'linux' } },
        ],
      }),
    );
    const put = await http(s.url, 'PUT', '/v2/multi/arch/manifests/latest', index, { 'content-type': OCI_INDEX });
    expect(put.status).toBe(201);
    const raw = JSON.parse(await skopeo('inspect', '--raw', `docker://${host}/multi/arch:latest`));
    expect(raw.manifests).toHaveLength(2);
    for (const [arch, want] of [
      ['arm64', arm.digest],
      ['amd64', amd.digest],
    ]) {
      const out = path.join(dir, `platform-${arch}`);
      await run('skopeo', [
        '--override-arch',
        arch,
        '--override-os',
        'linux',
        '--policy',
        path.join(dir, 'policy.json'),
        'copy',
        '--src-tls-verify=false',
        '--src-creds',
        `${s.admin.user}:${s.admin.password}`,
        `docker://${host}/multi/arch:latest`,
        `oci:${out}:x`,
      ]);
      const index = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8'));
      expect({ arch, digest: index.manifests[0].digest }).toEqual({ arch, digest: want });
    }
  });

  it('finds an artifact pushed with a subject through the referrers API', async () => {
    const subject = await pushImage(s.url, 'art/app', 'v1');
    const sig = await pushImage(s.url, 'art/app', 'sig', {
      subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length },
      artifactType: 'application/vnd.example.sig',
    });
    const r = await http(s.url, 'GET', `/v2/art/app/referrers/${subject.digest}`);
    expect(r.json().manifests.map((m: { digest: string }) => m.digest)).toEqual([sig.digest]);
    // skopeo sees the artifact as an ordinary manifest too.
    const raw = JSON.parse(await skopeo('inspect', '--raw', `docker://${host}/art/app@${sig.digest}`));
    expect(raw.subject.digest).toBe(subject.digest);
  });
});
