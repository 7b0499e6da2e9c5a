// Golden tests against a real client: skopeo writes archives we read, and reads archives we write.
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { readArchive, writeArchive, familiarString, digestOf, type Archive } from './index';
import { readAll, sampleImage, tarDir, writeOciLayoutDir } from '../test/helpers';

const run = promisify(execFile);
// skopeo is a required test dependency (npm test installs it): a missing one fails here, loudly.
describe('docker-archive interop with skopeo', () => {
  jest.setTimeout(120_000);
  let dir: string;
  let policy: string;
  const skopeo = (...args: string[]) => run('skopeo', ['--policy', policy, ...args], { env: { ...process.env, TMPDIR: dir } });
  const archives: Archive[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oci-e2e-'));
    policy = join(dir, 'policy.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  });
  afterAll(async () => {
    for (const a of archives) await a.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a docker-archive written by skopeo (pre-25 layout) from an OCI layout we built', async () => {
    const image = await sampleImage('skopeo-src');
    const layout = join(dir, 'layout1');
    await writeOciLayoutDir(layout, [{ image, tag: 'v1' }]);
    const file = join(dir, 'skopeo.tar');
    await skopeo('copy', `oci:${layout}:v1`, `docker-archive:${file}:example.com/team/app:v1`);

    const archive = await readArchive(file, { spoolDir: dir });
    archives.push(archive);
    expect(archive.format).toBe('docker-archive');
    expect(archive.compression).toBe('none');
    expect(archive.images).toHaveLength(1);
    const [entry] = archive.images;
    expect(entry.repoTags).toEqual(['example.com/team/app:v1']);
    expect(familiarString(entry.tags[0])).toBe('example.com/team/app:v1');
    const img = entry.image;
    // The config is carried byte for byte, so the image ID survives the round trip.
    expect(await img.configName()).toBe(await image.configName());
    const srcLayers = await image.layers();
    const layers = await img.layers();
    expect(layers).toHaveLength(2);
    for (let i = 0; i < layers.length; i++) {
      expect(await layers[i].diffId()).toBe(await srcLayers[i].diffId());
      const bytes = await readAll(await layers[i].uncompressed());
      expect(digestOf(bytes)).toBe(await srcLayers[i].diffId());
    }
  });

  it('writes an archive that skopeo inspects and copies into an OCI layout', async () => {
    const a = await sampleImage('a');
    const b = await sampleImage('b', 'docker');
    const file = join(dir, 'ours.tar');
    await pipeline(
      writeArchive([
        { image: a, tags: ['busybox', 'busybox:1.36'] },
        { image: b, tags: ['localhost:5000/team/b:2'] },
      ]),
      createWriteStream(file),
    );
    const inspect = JSON.parse((await skopeo('inspect', `docker-archive:${file}:busybox:latest`)).stdout);
    expect(inspect.Layers).toHaveLength(2);
    expect(inspect.Labels).toEqual({ seed: 'a' });
    expect(inspect.Architecture).toBe('amd64');
    const inspectB = JSON.parse((await skopeo('inspect', `docker-archive:${file}:localhost:5000/team/b:2`)).stdout);
    expect(inspectB.Labels).toEqual({ seed: 'b' });

    const out = join(dir, 'out-layout');
    await skopeo('copy', `docker-archive:${file}:busybox:1.36`, `oci:${out}:copied`);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8'));
    expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('copied');
    // skopeo re-serialises the config when it converts to OCI, so compare what it says, not its bytes.
    const blob = (d: string) => readFile(join(out, 'blobs', 'sha256', d.slice('sha256:'.length)));
    const copied = JSON.parse((await blob(index.manifests[0].digest)).toString());
    const copiedConfig = JSON.parse((await blob(copied.config.digest)).toString());
    expect(copiedConfig.rootfs.diff_ids).toEqual((await a.configFile()).rootfs.diff_ids);
    expect(copiedConfig.config.Labels).toEqual({ seed: 'a' });
    expect(await readdir(join(out, 'blobs', 'sha256'))).toHaveLength(4);

    // An OCI layout written by skopeo, tarred, reads as an archive too.
    const layoutArchive = await readArchive(Readable.from([await tarDir(out)]), { spoolDir: dir });
    archives.push(layoutArchive);
    expect(layoutArchive.format).toBe('oci-layout');
    expect(layoutArchive.images[0].repoTags).toEqual(['copied']);
    expect((await layoutArchive.images[0].image.configFile()).rootfs.diff_ids).toEqual((await a.configFile()).rootfs.diff_ids);
    const copiedLayers = await layoutArchive.images[0].image.layers();
    expect(digestOf(await readAll(await copiedLayers[1].uncompressed()))).toBe(await copiedLayers[1].diffId());

    // And the same archive reads back through this library with both views agreeing.
    const back = await readArchive(file, { spoolDir: dir });
    archives.push(back);
    expect(back.format).toBe('docker-archive+oci-layout');
    expect(back.images.map((i) => i.repoTags)).toEqual([['busybox:latest', 'busybox:1.36'], ['localhost:5000/team/b:2']]);
    expect(await back.images[0].image.digest()).toBe(await a.digest());
    expect(await back.images[1].image.digest()).toBe(await b.digest());
  });
});
