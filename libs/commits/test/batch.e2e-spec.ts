// Batch commits across two commit-worker processes of a split deployment: 200 commits as one BullMQ
// flow, one worker killed with SIGKILL mid-batch; every image must still be there, once, and right.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { http, policyFile, startStevedore, type StevedoreUnderTest, type UncheckedJson } from '@stevedore/testing';
import { Api, baseLayout, expectStatus, pushLayout } from './helpers';

jest.setTimeout(600_000);
const N = Number(process.env.BATCH_COMMITS ?? 200);
// Throughput runs: BATCH_WORKERS=1 BATCH_KILL=0 measures one worker left alone.
const WORKERS = Number(process.env.BATCH_WORKERS ?? 2);
const KILL = process.env.BATCH_KILL !== '0';

let sut: StevedoreUnderTest;
let api: Api;
let dir: string;

beforeAll(async () => {
  sut = await startStevedore({
    wiring: 'split',
    commitWorkers: WORKERS,
    extraEnv: { STEVEDORE_COMMIT_LOCK_SECONDS: '3', STEVEDORE_COMMIT_CONCURRENCY: '4' },
  });
  api = new Api(sut);
  dir = await mkdtemp(join(tmpdir(), 'batch-e2e-'));
  baseLayout(join(dir, 'layout'));
  await pushLayout(sut, policyFile(dir), join(dir, 'layout'), 'base', 'library/busybox');
});
afterAll(async () => {
  if (process.env.SHOW_LOGS) console.log(sut?.logs('commit-worker-2'));
  await sut?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

it(`commits a batch of ${N} across ${WORKERS} workers${KILL ? ', one killed mid-batch,' : ''} with no duplicate or partial image`, async () => {
  const containers = await mapLimit([...Array(N).keys()], 8, async (i) => {
    const id = await api.create('library/busybox:base');
    await api.write(id, `/home/n${i}.txt`, `container ${i}\n`);
    return id;
  });
  const specs = containers.map((container, i) => ({ container, reference: `batch/img:n${i}`, author: 'batch', message: `commit ${i}` }));
  specs.push({ container: 'e'.repeat(64), reference: 'batch/img:missing', author: 'batch', message: 'no such container' });
  const t0 = Date.now();
  const submitted = expectStatus(await api.call('POST', '/api/v1/commits:batch', { commits: specs }), 202);
  expect(submitted.children).toHaveLength(N + 1);

  // Kill one worker once the batch is well under way.
  for (;;) {
    const s = expectStatus(await api.call('GET', `/api/v1/jobs/${submitted.id}`), 200);
    if ((s.children?.processed ?? 0) >= Math.min(20, N / 4) || s.state === 'completed') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (KILL) sut.kill('commit-worker-1');

  const done = await api.wait(submitted.id, 540_000);
  const seconds = (Date.now() - t0) / 1000;
  console.log(
    `batch of ${N} on ${WORKERS} worker(s): ${seconds.toFixed(1)} s (${((N / seconds) * 60).toFixed(0)} commits/min)${KILL ? ', one killed' : ''}`,
  );
  expect(done.state).toBe('completed');
  expect(done.result.total).toBe(N + 1);
  expect(done.result.succeeded).toBe(N);
  const missing = done.result.items.find((i: UncheckedJson) => i.reference === 'batch/img:missing');
  expect(missing.error.code).toBe('NOT_FOUND');

  const items = done.result.items.filter((i: UncheckedJson) => i.digest);
  expect(new Set(items.map((i: UncheckedJson) => i.digest)).size).toBe(N);
  await mapLimit(items, 8, async (item: UncheckedJson) => {
    const tag = item.reference.split(':')[1];
    const r = await http(sut.url, 'GET', `/v2/batch/img/manifests/${tag}`, undefined, {
      accept: 'application/vnd.oci.image.manifest.v1+json',
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-content-digest')).toBe(item.digest);
    const m = JSON.parse(r.body.toString());
    expect(m.layers).toHaveLength(3);
    const layer = await http(sut.url, 'GET', `/v2/batch/img/blobs/${m.layers[2].digest}`);
    expect(layer.status).toBe(200);
    const text = gunzipSync(layer.body).toString('latin1');
    expect(text).toContain(`home/${tag}.txt`);
    expect(text).toContain(`container ${tag.slice(1)}\n`);
  });
  // Each job ran to completion once as far as clients can tell: every tag names the batch's digest.
  const tags = expectStatus(await http(sut.url, 'GET', '/v2/batch/img/tags/list?n=1000'), 200);
  expect(tags.tags).toHaveLength(N);
});
