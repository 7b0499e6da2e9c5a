// End to end against a real unpacker: layers built here, packaged as an OCI layout by hand, unpacked
// by `umoci unpack --rootless`; the rootfs must be exactly what the merged view predicts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf, MediaTypes, type Digest } from '@stevedore/oci';
import { MemoryContentStore } from './content-store';
import { layerOf, type Entry, type Layer } from './entry';
import { MergedView } from './merged-view';
import { ReadWriteLayer } from './read-write-layer';
import { writeLayer } from './write-layer';
import { dir, file, sym } from '../test/helpers';

const hex = (d: string) => d.slice('sha256:'.length);

function putBlob(layout: string, data: Buffer | string): { digest: Digest; size: number } {
  const digest = digestOf(data);
  writeFileSync(join(layout, 'blobs/sha256', hex(digest)), data);
  return { digest, size: Buffer.byteLength(data) };
}

/** What is on disk, in the same shape as the view's prediction. */
function scan(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, rel)).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(root, path));
    if (st.isDirectory()) {
      out.push(`${path} dir ${(st.mode & 0o7777).toString(8)}`);
      out.push(...scan(root, path));
    } else if (st.isSymbolicLink()) out.push(`${path} symlink ${readlinkSync(join(root, path))}`);
    else
      out.push(
        `${path} file ${(st.mode & 0o7777).toString(8)} ${createHash('sha256')
          .update(readFileSync(join(root, path)))
          .digest('hex')} ${Math.floor(st.mtimeMs / 1000)}`,
      );
  }
  return out;
}

function predict(view: MergedView, store: MemoryContentStore): string[] {
  const describe = (e: Entry): string => {
    if (e.type === 'directory') return `${e.path} dir ${e.mode.toString(8)}`;
    if (e.type === 'symlink') return `${e.path} symlink ${e.linkname}`;
    const target = e.type === 'hardlink' ? view.lookup(e.linkname!)! : e;
    return `${e.path} file ${target.mode.toString(8)} ${hex(target.digest!)} ${target.mtime}`;
  };
  void store;
  return [...view.walk()].map(describe);
}

// umoci is a required test dependency (npm test installs it); without it this suite fails loudly.
describe('umoci unpack of layers written by unionfs', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'unionfs-umoci-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('produces the tree the merged view predicts, whiteouts and opaque directories applied', async () => {
    const store = new MemoryContentStore();
    const t = 1_700_000_000;
    const base: Layer = layerOf([
      dir('etc', { mtime: t }),
      await file(store, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n', { mtime: t }),
      await file(store, 'etc/hosts', '127.0.0.1 localhost\n', { mtime: t }),
      dir('var', { mtime: t }),
      dir('var/cache', { mtime: t }),
      await file(store, 'var/cache/a', 'cached a', { mtime: t }),
      await file(store, 'var/cache/b', 'cached b', { mtime: t }),
      dir('usr', { mtime: t }),
      dir('usr/bin', { mtime: t }),
      await file(store, 'usr/bin/tool', '#!/bin/sh\necho hi\n', { mode: 0o755, mtime: t }),
      sym('usr/bin/alias', 'tool'),
    ]);
    // Second layer: a container's changes, made through the read-write layer.
    const rw1 = new ReadWriteLayer(new MergedView([base]), undefined, { now: () => t + 10 });
    rw1.remove('/etc/hosts');
    rw1.writeFile('/etc/passwd', await store.put('root:x:0:0:root:/root:/bin/bash\n'));
    rw1.remove('/var/cache', { recursive: true });
    rw1.mkdir('/var/cache', { mode: 0o750 });
    rw1.writeFile('/var/cache/c', await store.put('fresh'), { mode: 0o640 });
    rw1.mkdir('/opt/app', { parents: true });
    rw1.writeFile('/opt/app/run', await store.put('run'), { mode: 0o700 });
    rw1.link('/opt/app/run', '/opt/app/run2');
    rw1.symlink('/opt/app/run', '/usr/bin/run');
    rw1.chmod('/usr/bin/tool', 0o750);
    const second = rw1.toLayer();
    // Third: a rename and a delete of something the second layer added.
    const rw2 = new ReadWriteLayer(new MergedView([base, second]), undefined, { now: () => t + 20 });
    rw2.rename('/usr/bin', '/usr/sbin');
    rw2.remove('/opt/app/run2');
    const third = rw2.toLayer();
    const layers = [base, second, third];

    const layout = join(work, 'layout');
    mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const descriptors = [];
    const diffIds = [];
    for (const [i, layer] of layers.entries()) {
      const tmp = join(layout, `layer-${i}.tmp`);
      const out = createWriteStream(tmp);
      const written = await writeLayer(layer, out, { contentStore: store, normalize: { uid: 0, gid: 0 } });
      renameSync(tmp, join(layout, 'blobs/sha256', hex(written.digest)));
      descriptors.push({ mediaType: written.mediaType, digest: written.digest, size: written.size });
      diffIds.push(written.diffId);
    }
    const config = putBlob(
      layout,
      JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds }, history: [] }),
    );
    const manifest = putBlob(
      layout,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, ...config },
        layers: descriptors,
      }),
    );
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: MediaTypes.ociManifest, ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'tag' } }],
      }),
    );

    const bundle = join(work, 'bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:tag`, bundle], { stdio: 'pipe' });

    const view = new MergedView(layers);
    const expected = predict(view, store);
    expect(scan(join(bundle, 'rootfs'))).toEqual(expected);
    // The rules under test are visible in the prediction itself.
    expect(expected.join('\n')).not.toMatch(/etc\/hosts|var\/cache\/a|usr\/bin\/|opt\/app\/run2/);
    expect(expected).toContain('usr/sbin/alias symlink tool');
  }, 60_000);
});
