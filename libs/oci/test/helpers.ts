// Test helpers: small layers and images, and an OCI layout directory that skopeo can read.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { buildImage, digestHex, layerFromBytes, MediaTypes, type Image, type ImageConfig } from '../src';

export async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mtime: new Date(0) }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

export const baseConfig: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  created: '2024-01-01T00:00:00Z',
  config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'] },
  rootfs: { type: 'layers', diff_ids: [] },
};

export async function sampleImage(seed: string, format: 'oci' | 'docker' = 'oci', gzip = true): Promise<Image> {
  const t1 = await tarOf({ 'etc/hello': `hello ${seed}\n` });
  const t2 = await tarOf({ 'usr/share/doc': `doc ${seed}\n`, 'shared.txt': 'same in every image\n' });
  const layer = (t: Buffer) => (gzip ? layerFromBytes(gzipSync(t), MediaTypes.ociLayerGzip) : layerFromBytes(t, MediaTypes.ociLayer));
  return buildImage({
    config: { ...baseConfig, author: seed, config: { ...baseConfig.config, Labels: { seed } } },
    layers: [layer(t1), layer(t2)],
    format,
  });
}

export async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** Write images to an OCI layout directory (what skopeo reads as `oci:DIR:tag`). */
export async function writeOciLayoutDir(dir: string, images: Array<{ image: Image; tag: string }>): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (d: string, b: Buffer) => writeFile(join(dir, 'blobs', 'sha256', digestHex(d as never)), b);
  const manifests = [];
  for (const { image, tag } of images) {
    const raw = await image.rawManifest();
    await put(await image.digest(), raw);
    await put(await image.configName(), await image.rawConfigFile());
    for (const l of await image.layers()) await put(await l.digest(), await readAll(await l.compressed()));
    manifests.push({
      mediaType: await image.mediaType(),
      digest: await image.digest(),
      size: raw.length,
      annotations: { 'org.opencontainers.image.ref.name': tag },
    });
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }));
}

/** A tarball of a directory's files (relative paths), for reading a layout as an archive. */
export async function tarDir(dir: string): Promise<Buffer> {
  const { readdir, readFile } = await import('node:fs/promises');
  const files: Record<string, Buffer> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else files[p] = await readFile(join(dir, p));
    }
  };
  await walk('');
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mtime: new Date(0) }, body);
  pack.finalize();
  // Cast: tar-stream is typed with streamx streams, which are Node-compatible at runtime but not Node Readable types.
  return readAll(pack as unknown as NodeJS.ReadableStream);
}
