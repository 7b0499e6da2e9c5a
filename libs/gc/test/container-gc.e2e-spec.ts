// Container contents under GC, end to end (all-in-one and split, filesystem storage, private Redis): a
// container's files count against its owner's namespace quota; a refused write leaves bytes that
// the next run removes; a live container keeps its files and its image's layer index; after the
// container is removed, one run drops the unused layer index and the files only it held, the next
// the layer's contents; a dead put's temporary file goes; a new container of the image still reads.
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { errorCode, http, pushImage, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { api, runGc, sleep } from './helpers';

jest.setTimeout(180_000);

let sut: StevedoreUnderTest;

async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

const storageDir = () => path.join(sut.env.STEVEDORE_DATA_DIR, 'storage');
/** Files under a storage folder (recursive), as paths relative to it. */
function filesUnder(rel: string): string[] {
  const root = path.join(storageDir(), rel);
  if (!existsSync(root)) return [];
  return (readdirSync(root, { recursive: true }) as string[]).filter((f) => statSync(path.join(root, f)).isFile());
}
const contentFiles = () => filesUnder('containers/content').map((f) => path.basename(f));
const hexOf = (s: string) => require('node:crypto').createHash('sha256').update(s).digest('hex') as string;

async function createContainer(image: string): Promise<string> {
  const r = await api(sut, 'POST', '/api/v1/containers', { image });
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.body}`);
  return r.json().id;
}
const writeFile = (id: string, p: string, body: string) =>
  http(sut.url, 'PUT', `/api/v1/containers/${id}/files?path=${encodeURIComponent(p)}`, body, {
    'content-type': 'application/octet-stream',
  });

// Split: the commit worker runs GC and asks metadata-service, which hosts containers, to collect.
describe.each(['all', 'split'] as const)('%s', (wiring) => {
  beforeAll(async () => {
    sut = await startStevedore({
      wiring,
      commitWorkers: wiring === 'split' ? 1 : 0,
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

  it('collects the contents of removed containers and unused layer indexes; owners pay for their files', async () => {
    const layerA = 'a'.repeat(3000) + Math.random();
    const layerB = 'b'.repeat(2000) + Math.random();
    await pushImage(sut.url, 'gcbox/base', '1', { layers: [await tarGz({ 'etc/a': layerA, 'etc/b': layerB })] });
    const id = await createContainer('gcbox/base:1');
    expect(contentFiles().sort()).toEqual([hexOf(layerA), hexOf(layerB)].sort());
    expect(filesUnder('containers/layers')).toHaveLength(1);

    // Written files count against the owner's namespace (the admin made it: namespace "admin").
    const mine = 'x'.repeat(8000) + Math.random();
    expect((await writeFile(id, '/etc/x', mine)).status).toBe(201);
    expect((await api(sut, 'GET', '/api/v1/quotas/admin')).json().usedBytes).toBe(mine.length);
    expect((await api(sut, 'PUT', '/api/v1/quotas/admin', { limitBytes: 10_000 })).status).toBe(200);
    const over = 'o'.repeat(5000) + Math.random();
    const refused = await writeFile(id, '/etc/over', over);
    expect(refused.status).toBe(403);
    expect(errorCode(refused)).toBe('DENIED');
    expect((await http(sut.url, 'GET', `/api/v1/containers/${id}/files?path=/etc/over`)).status).toBe(404);
    // Its bytes were stored before the refusal: garbage for the next run.
    expect(contentFiles()).toContain(hexOf(over));
    expect((await api(sut, 'DELETE', '/api/v1/quotas/admin')).status).toBe(204);

    // A dead put's temporary file, older than the upload age.
    const tmp = path.join(storageDir(), 'containers/tmp/0f0e0d0c-dead-put/data');
    mkdirSync(path.dirname(tmp), { recursive: true });
    writeFileSync(tmp, 'half a file');
    utimesSync(tmp, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));

    await sleep(1200);
    const live = await runGc(sut);
    expect(live.containers).toMatchObject({ containers: 1, layerIndexes: { deleted: 0 }, content: { deleted: 1 }, tmpFiles: 1 });
    expect(contentFiles().sort()).toEqual([hexOf(layerA), hexOf(layerB), hexOf(mine)].sort());
    expect(existsSync(tmp)).toBe(false);
    expect((await http(sut.url, 'GET', `/api/v1/containers/${id}/files?path=/etc/x`)).body.toString()).toBe(mine);
    expect((await http(sut.url, 'GET', `/api/v1/containers/${id}/files?path=/etc/a`)).body.toString()).toBe(layerA);
    // The recount keeps what the container holds.
    expect((await api(sut, 'GET', '/api/v1/quotas/admin')).json().usedBytes).toBe(mine.length);

    expect((await api(sut, 'DELETE', `/api/v1/containers/${id}`)).status).toBe(204);
    await sleep(1200);
    const first = await runGc(sut);
    // The index goes; the layer's contents stay this run (a container made meanwhile may hold them).
    expect(first.containers).toMatchObject({ containers: 0, layerIndexes: { deleted: 1 }, content: { deleted: 1 } });
    expect(filesUnder('containers/layers')).toEqual([]);
    expect(contentFiles().sort()).toEqual([hexOf(layerA), hexOf(layerB)].sort());
    expect((await api(sut, 'GET', '/api/v1/quotas/admin')).json().usedBytes).toBe(0);
    await sleep(1200);
    const second = await runGc(sut);
    expect(second.containers).toMatchObject({ content: { deleted: 2 } });
    expect(contentFiles()).toEqual([]);
    expect(second.bytesFreed).toBeGreaterThanOrEqual(layerA.length + layerB.length);

    // The image is whole: a new container reads its files again (the index is rebuilt from the layer).
    const again = await createContainer('gcbox/base:1');
    expect((await http(sut.url, 'GET', `/api/v1/containers/${again}/files?path=/etc/b`)).body.toString()).toBe(layerB);
    await sleep(1200);
    const keep = await runGc(sut);
    expect(keep.containers).toMatchObject({ containers: 1, layerIndexes: { deleted: 0 }, content: { deleted: 0 } });
    expect((await http(sut.url, 'GET', `/api/v1/containers/${again}/files?path=/etc/a`)).body.toString()).toBe(layerA);
  });

  it('a dry run reports what a run would remove and removes nothing', async () => {
    const id = await createContainer('gcbox/base:1');
    const body = 'dry'.repeat(1000) + Math.random();
    expect((await writeFile(id, '/etc/dry', body)).status).toBe(201);
    expect((await api(sut, 'DELETE', `/api/v1/containers/${id}`)).status).toBe(204);
    await sleep(1200);
    const dry = await runGc(sut, { dryRun: true });
    expect(dry.containers.content.deleted).toBeGreaterThanOrEqual(1);
    expect(contentFiles()).toContain(hexOf(body));
    const real = await runGc(sut);
    expect(real.containers.content.deleted).toBeGreaterThanOrEqual(1);
    expect(contentFiles()).not.toContain(hexOf(body));
  });
});
