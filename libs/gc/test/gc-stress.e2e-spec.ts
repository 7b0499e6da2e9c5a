// Online GC under load: pushers, taggers and untaggers, pullers and back-to-back GC runs together
// for a bounded time (loopback only), with a 1 s grace. Layers come from a small shared pool, so GC
// keeps deleting blobs that the next push uploads, HEAD-skips or references again. Every pull of an
// image that is still tagged when the pull ends must succeed, byte for byte.
import { startStevedore, http, pushBlob, sha256, type StevedoreUnderTest } from '@stevedore/testing';
import { OCI_MANIFEST, pull, runGc, sleep, tagDigest } from './helpers';

const SECONDS = Number(process.env.GC_STRESS_SECONDS ?? 25);
jest.setTimeout((SECONDS + 120) * 1000);

let sut: StevedoreUnderTest;
beforeAll(async () => {
  sut = await startStevedore({
    wiring: 'all',
    extraEnv: {
      STEVEDORE_GC_GRACE_SECONDS: '1',
      STEVEDORE_GC_UNTAGGED_MAX_AGE_SECONDS: '1',
      STEVEDORE_GC_UPLOAD_MAX_AGE_SECONDS: '5',
      STEVEDORE_GC_SCHEDULE: 'off',
    },
  });
});
afterAll(async () => {
  await sut?.stop();
});

const REPOS = ['stress/a', 'stress/b'];
const TAGS = ['t0', 't1', 't2', 't3', 't4', 't5'];
const POOL = Array.from({ length: 12 }, (_, i) => Buffer.from(`shared layer ${i} `.repeat(200 + i)));
const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];

/** Push one image; shared layers are HEAD-checked first and skipped when present (as docker does). */
async function pushOnce(name: string, tag: string): Promise<void> {
  const layers = [pick(POOL), pick(POOL), Buffer.from(`unique ${Math.random()}`)];
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: Math.floor(Math.random() * 3) }),
  );
  const descs = [];
  for (const b of [config, ...layers]) {
    const d = sha256(b);
    const head = await http(sut.url, 'HEAD', `/v2/${name}/blobs/${d}`);
    if (head.status !== 200) await pushBlob(sut.url, name, b);
    descs.push({ digest: d, size: b.length });
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...descs[0] },
      layers: descs.slice(1).map((x) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...x })),
    }),
  );
  const put = await http(sut.url, 'PUT', `/v2/${name}/manifests/${tag}`, manifest, { 'content-type': OCI_MANIFEST });
  if (put.status !== 201) throw new Error(`PUT manifest ${put.status} ${put.body}`);
}

it(`no pull of a tagged image fails while pushes, untags and GC run together for ${SECONDS}s`, async () => {
  const deadline = Date.now() + SECONDS * 1000;
  const stats = { pushes: 0, pushFailures: 0, untags: 0, pulls: 0, pullMisses: 0, gcRuns: 0, blobsDeleted: 0, manifestsDeleted: 0 };
  const failures: string[] = [];
  const pushErrors = new Map<string, number>();

  const pusher = async () => {
    while (Date.now() < deadline) {
      try {
        await pushOnce(pick(REPOS), pick(TAGS));
        stats.pushes++;
      } catch (e) {
        // A push may fail cleanly (a blob it skipped was collected); it must never break a pull.
        stats.pushFailures++;
        const k = String((e as Error).message).slice(0, 60);
        pushErrors.set(k, (pushErrors.get(k) ?? 0) + 1);
      }
    }
  };
  const untagger = async () => {
    while (Date.now() < deadline) {
      const r = await http(sut.url, 'DELETE', `/v2/${pick(REPOS)}/manifests/${pick(TAGS)}`);
      if (r.status === 202) stats.untags++;
      await sleep(150);
    }
  };
  const puller = async () => {
    while (Date.now() < deadline) {
      const name = pick(REPOS);
      const tag = pick(TAGS);
      const r = await pull(sut, name, tag);
      stats.pulls++;
      if (r.ok) continue;
      stats.pullMisses++;
      // Only a failure if the tag still names the image the pull started from.
      if (r.digest && (await tagDigest(sut, name, tag)) === r.digest) failures.push(`${name}:${tag} ${r.digest}: ${r.why}`);
    }
  };
  const collector = async () => {
    while (Date.now() < deadline) {
      const report = await runGc(sut);
      stats.gcRuns++;
      stats.blobsDeleted += report.blobs.deleted;
      stats.manifestsDeleted += report.manifests.deleted;
    }
  };
  await Promise.all([pusher(), pusher(), pusher(), untagger(), puller(), puller(), collector()]);

  // Afterwards: every tag still pulls whole.
  for (const name of REPOS) {
    for (const tag of TAGS) {
      if (!(await tagDigest(sut, name, tag))) continue;
      const r = await pull(sut, name, tag);
      if (!r.ok) failures.push(`final ${name}:${tag}: ${r.why}`);
    }
  }
  console.log(JSON.stringify({ ...stats, pushErrors: Object.fromEntries(pushErrors) }));
  expect(failures).toEqual([]);
  expect(stats.gcRuns).toBeGreaterThan(3);
  expect(stats.blobsDeleted).toBeGreaterThan(0);
  expect(stats.pushes).toBeGreaterThan(10);
});
