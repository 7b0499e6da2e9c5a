// Storage hygiene end to end against a real Stevedore (all-in-one, filesystem storage, private
// Redis): dry run then real run, tagged images intact, upload purging, retention, quotas, and
// batched deletes of a large sweep.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startStevedore, http, pushBlob, pushImage, errorCode, sha256, type StevedoreUnderTest } from '@stevedore/testing';
import { api, metric, pull, runGc, sleep } from './helpers';

jest.setTimeout(180_000);

let sut: StevedoreUnderTest;
beforeAll(async () => {
  sut = await startStevedore({
    wiring: 'all',
    extraEnv: {
      STEVEDORE_GC_GRACE_SECONDS: '1',
      STEVEDORE_GC_UNTAGGED_MAX_AGE_SECONDS: '1',
      STEVEDORE_GC_UPLOAD_MAX_AGE_SECONDS: '2',
      STEVEDORE_GC_SCHEDULE: 'off',
    },
  });
});
afterAll(async () => {
  await sut?.stop();
});

const blobFile = (digest: string) => {
  const hex = digest.slice('sha256:'.length);
  return path.join(sut.env.STEVEDORE_DATA_DIR, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
};

describe('gc', () => {
  it('needs an admin', async () => {
    const r = await http(sut.url, 'POST', '/api/v1/gc', '{}', {
      'content-type': 'application/json',
      authorization: 'Basic ' + Buffer.from('nobody:wrong').toString('base64'),
    });
    expect(r.status).toBe(401);
  });

  it('dry run reports and changes nothing; the real run frees the bytes; tagged images pull intact', async () => {
    const keep = await pushImage(sut.url, 'gcapp/web', 'keep', { layers: [Buffer.from('keep-layer-' + 'k'.repeat(5000))] });
    const drop = await pushImage(sut.url, 'gcapp/web', 'drop', { layers: [Buffer.from('drop-layer-' + 'd'.repeat(7000))] });
    expect((await http(sut.url, 'DELETE', '/v2/gcapp/web/manifests/drop')).status).toBe(202);
    await sleep(1200);

    const dry = await runGc(sut, { dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(dry.blobs.digests).toContain(drop.layers[0].digest);
    expect(dry.blobs.digests).not.toContain(keep.layers[0].digest);
    expect(dry.blobs.digests).not.toContain(keep.config.digest);
    expect(dry.manifests.digests).toContainEqual({ repository: 'gcapp/web', digest: drop.digest });
    expect(dry.bytesFreed).toBeGreaterThanOrEqual(7000);
    // nothing changed
    expect((await http(sut.url, 'GET', `/v2/gcapp/web/blobs/${drop.layers[0].digest}`)).status).toBe(200);
    expect(
      (
        await http(sut.url, 'GET', `/v2/gcapp/web/manifests/${drop.digest}`, undefined, {
          accept: 'application/vnd.oci.image.manifest.v1+json',
        })
      ).status,
    ).toBe(200);
    expect(existsSync(blobFile(drop.layers[0].digest))).toBe(true);

    const runsBefore = await metric(sut, 'stevedore_gc_runs_total', { mode: 'sweep' });
    const freedBefore = await metric(sut, 'stevedore_gc_bytes_freed_total');
    const real = await runGc(sut);
    expect(real.dryRun).toBe(false);
    expect(real.blobs.digests).toContain(drop.layers[0].digest);
    expect(real.manifests.digests).toContainEqual({ repository: 'gcapp/web', digest: drop.digest });
    expect(real.bytesFreed).toBeGreaterThanOrEqual(7000);
    expect((await http(sut.url, 'GET', `/v2/gcapp/web/blobs/${drop.layers[0].digest}`)).status).toBe(404);
    expect(
      (
        await http(sut.url, 'GET', `/v2/gcapp/web/manifests/${drop.digest}`, undefined, {
          accept: 'application/vnd.oci.image.manifest.v1+json',
        })
      ).status,
    ).toBe(404);
    expect(existsSync(blobFile(drop.layers[0].digest))).toBe(false);
    expect(existsSync(blobFile(keep.layers[0].digest))).toBe(true);
    expect(await pull(sut, 'gcapp/web', 'keep')).toEqual({ ok: true, digest: keep.digest });
    expect(await metric(sut, 'stevedore_gc_runs_total', { mode: 'sweep' })).toBe(runsBefore + 1);
    expect(await metric(sut, 'stevedore_gc_bytes_freed_total')).toBeGreaterThanOrEqual(freedBefore + 7000);

    // A second run finds nothing more; the run is listed.
    const again = await runGc(sut);
    expect(again.blobs.deleted).toBe(0);
    const runs = (await api(sut, 'GET', '/api/v1/gc/runs')).json().runs;
    expect(runs.length).toBeGreaterThanOrEqual(3);
  });

  it('keeps the children of a tagged index and the referrers of a live subject', async () => {
    const child = await pushImage(sut.url, 'gcapp/multi', 'child-tmp');
    const sig = await pushImage(sut.url, 'gcapp/multi', 'sig-tmp', {
      artifactType: 'application/vnd.example.sig',
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: child.digest, size: child.manifest.length },
    });
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: child.digest,
            size: child.manifest.length,
            platform: { os: 'linux', architecture: 'amd64' },
          },
        ],
      }),
    );
    expect(
      (await http(sut.url, 'PUT', '/v2/gcapp/multi/manifests/v1', index, { 'content-type': 'application/vnd.oci.image.index.v1+json' }))
        .status,
    ).toBe(201);
    await http(sut.url, 'DELETE', '/v2/gcapp/multi/manifests/child-tmp');
    await http(sut.url, 'DELETE', '/v2/gcapp/multi/manifests/sig-tmp');
    await sleep(1200);
    const report = await runGc(sut);
    const gone = report.manifests.digests.map((x: { digest: string }) => x.digest);
    expect(gone).not.toContain(child.digest);
    expect(gone).not.toContain(sig.digest);
    expect((await http(sut.url, 'GET', `/v2/gcapp/multi/blobs/${child.layers[0].digest}`)).status).toBe(200);
    expect((await http(sut.url, 'GET', `/v2/gcapp/multi/blobs/${sig.layers[0].digest}`)).status).toBe(200);
    const referrers = (await http(sut.url, 'GET', `/v2/gcapp/multi/referrers/${child.digest}`)).json();
    expect(referrers.manifests.map((m: { digest: string }) => m.digest)).toEqual([sig.digest]);
  });

  it('purges abandoned uploads with their storage', async () => {
    const post = await http(sut.url, 'POST', '/v2/gcapp/up/blobs/uploads/');
    expect(post.status).toBe(202);
    const loc = post.headers.get('location')!;
    const patch = await http(sut.url, 'PATCH', loc, Buffer.alloc(3000, 1), {
      'content-type': 'application/octet-stream',
      'content-range': '0-2999',
    });
    expect(patch.status).toBe(202);
    const id = loc.split('/').pop()!.split('?')[0];
    const folder = path.join(sut.env.STEVEDORE_DATA_DIR, 'storage', 'repositories', 'gcapp', 'up', '_uploads', id);
    expect(existsSync(folder)).toBe(true);
    // A fresh upload is left alone.
    const fresh = await runGc(sut);
    expect(existsSync(folder)).toBe(true);
    expect(fresh.uploads.sessions).toBe(0);
    await sleep(2200);
    const dry = await runGc(sut, { dryRun: true });
    expect(dry.uploads).toMatchObject({ sessions: 1, bytesFreed: 3000 });
    expect(existsSync(folder)).toBe(true);
    const real = await runGc(sut);
    expect(real.uploads).toMatchObject({ sessions: 1, bytesFreed: 3000 });
    expect(existsSync(folder)).toBe(false);
    expect((await http(sut.url, 'GET', loc)).status).toBe(404);
  });

  it('applies retention rules: keep the newest N and tags matching a pattern', async () => {
    for (const tag of ['r1', 'r2', 'r3', 'r4', 'release-1']) {
      await pushImage(sut.url, 'gcret/app', tag);
      await sleep(20);
    }
    expect((await api(sut, 'PUT', '/api/v1/retention', { repository: 'gcret/*', keepLast: 2, keepPattern: 'release-.*' })).status).toBe(
      200,
    );
    expect((await api(sut, 'GET', '/api/v1/retention')).json().rules).toEqual([
      { repository: 'gcret/*', keepLast: 2, keepPattern: 'release-.*' },
    ]);
    const dry = await runGc(sut, { dryRun: true });
    expect(dry.retention.tags.map((t: { tag: string }) => t.tag).sort()).toEqual(['r1', 'r2', 'r3']);
    expect((await http(sut.url, 'GET', '/v2/gcret/app/tags/list')).json().tags).toHaveLength(5);
    await runGc(sut);
    expect((await http(sut.url, 'GET', '/v2/gcret/app/tags/list')).json().tags.sort()).toEqual(['r4', 'release-1']);
    expect((await pull(sut, 'gcret/app', 'r4')).ok).toBe(true);
    expect((await api(sut, 'DELETE', '/api/v1/retention?repository=gcret/*')).status).toBe(204);
  });

  it('denies a push over the namespace quota, counting a shared blob once', async () => {
    expect((await api(sut, 'PUT', '/api/v1/quotas/quota', { limitBytes: 10_000 })).json()).toMatchObject({
      namespace: 'quota',
      limitBytes: 10_000,
    });
    const big = Buffer.alloc(6000, 7);
    await pushBlob(sut.url, 'quota/a', big);
    // the same blob in another repository of the namespace is not counted again
    await pushBlob(sut.url, 'quota/b', big);
    const over = Buffer.alloc(5000, 8);
    const post = await http(sut.url, 'POST', '/v2/quota/a/blobs/uploads/');
    const loc = post.headers.get('location')!;
    const put = await http(sut.url, 'PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${sha256(over)}`, over, {
      'content-type': 'application/octet-stream',
    });
    expect(put.status).toBe(403);
    expect(errorCode(put)).toBe('DENIED');
    expect(put.json().errors[0].message).toMatch(/quota of namespace "quota" exceeded/);
    expect((await http(sut.url, 'HEAD', `/v2/quota/a/blobs/${sha256(over)}`)).status).toBe(404);
    // another namespace is not limited
    await pushBlob(sut.url, 'free/a', over);
    expect((await api(sut, 'GET', '/api/v1/quotas/quota')).json().usedBytes).toBe(6000);
    // GC recounts: unreferenced blobs go, usage drops, the push fits
    await sleep(1200);
    await runGc(sut);
    expect((await api(sut, 'GET', '/api/v1/quotas/quota')).json().usedBytes).toBe(0);
    await pushBlob(sut.url, 'quota/a', over);
    expect((await api(sut, 'GET', '/api/v1/quotas')).json().quotas).toEqual([{ namespace: 'quota', limitBytes: 10_000, usedBytes: 5000 }]);
  });

  it('sweeps many blobs in batched deletes', async () => {
    const N = 1500;
    const pushed: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) {
          const i = next++;
          pushed.push(await pushBlob(sut.url, 'gcmany/blobs', Buffer.from(`unreferenced blob ${i}`)));
        }
      }),
    );
    await sleep(1200);
    const manyBefore = await metric(sut, 'stevedore_storage_operations_total', { operation: 'deleteMany' });
    const oneBefore = await metric(sut, 'stevedore_storage_operations_total', { operation: 'delete' });
    const t = Date.now();
    const report = await runGc(sut);
    const ms = Date.now() - t;
    const manyCalls = (await metric(sut, 'stevedore_storage_operations_total', { operation: 'deleteMany' })) - manyBefore;
    const oneCalls = (await metric(sut, 'stevedore_storage_operations_total', { operation: 'delete' })) - oneBefore;
    expect(report.blobs.deleted).toBeGreaterThanOrEqual(N);
    expect(report.deleteBatches).toBeLessThanOrEqual(Math.ceil(report.blobs.deleted / 1000) + 1);
    expect(manyCalls).toBeLessThanOrEqual(report.deleteBatches + 2);
    expect(oneCalls).toBe(0);
    for (const d of pushed.slice(0, 20)) expect(existsSync(blobFile(d))).toBe(false);
    console.log(`swept ${report.blobs.deleted} blobs in ${ms} ms with ${manyCalls} deleteMany calls`);
  });
});
