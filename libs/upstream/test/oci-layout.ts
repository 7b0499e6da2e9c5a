// Builds OCI image layouts for the tests: multi-layer images and a two-platform index, with real
// gzip'd tar layers, so skopeo can push them to a registry.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function tarOf(files: Record<string, Buffer>): Promise<Buffer> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name, mtime: new Date(0), mode: 0o644 }, content);
  p.finalize();
  const parts: Buffer[] = [];
  for await (const c of p) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
}

class Layout {
  private readonly blobs: string;
  private readonly refs: Array<Desc & { annotations: Record<string, string> }> = [];
  constructor(readonly dir: string) {
    this.blobs = path.join(dir, 'blobs', 'sha256');
    mkdirSync(this.blobs, { recursive: true });
    writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }
  blob(b: Buffer, mediaType: string): Desc {
    const d = sha(b);
    writeFileSync(path.join(this.blobs, d.slice(7)), b);
    return { mediaType, digest: d, size: b.length };
  }
  tag(name: string, d: Desc): void {
    this.refs.push({ ...d, annotations: { 'org.opencontainers.image.ref.name': name } });
    writeFileSync(
      path.join(this.dir, 'index.json'),
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: this.refs }),
    );
  }
}

async function image(l: Layout, layerFiles: Array<Record<string, Buffer>>, arch = 'amd64'): Promise<Desc> {
  const layers: Desc[] = [];
  const diffIds: string[] = [];
  for (const files of layerFiles) {
    const tar = await tarOf(files);
    diffIds.push(sha(tar));
    layers.push(l.blob(gzipSync(tar, { level: 1 }), 'application/vnd.oci.image.layer.v1.tar+gzip'));
  }
  const config = Buffer.from(
    JSON.stringify({ architecture: arch, os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: diffIds } }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: l.blob(config, 'application/vnd.oci.image.config.v1+json'),
      layers,
    }),
  );
  return l.blob(manifest, 'application/vnd.oci.image.manifest.v1+json');
}

/** An image of `layers` layers (each with a random file of `layerBytes`) tagged `tag`. */
export async function writeImageLayout(dir: string, tag: string, layers = 3, layerBytes = 2048): Promise<string> {
  const l = new Layout(dir);
  const files = Array.from({ length: layers }, (_, i) => ({ [`layer${i}/data.bin`]: randomBytes(layerBytes) }));
  const m = await image(l, files);
  l.tag(tag, m);
  return m.digest;
}

/** A two-platform index (amd64, arm64) tagged `tag`. */
export async function writeIndexLayout(dir: string, tag: string): Promise<string> {
  const l = new Layout(dir);
  const amd = await image(l, [{ 'a.txt': randomBytes(1000) }, { 'b.txt': randomBytes(1000) }], 'amd64');
  const arm = await image(l, [{ 'a.txt': randomBytes(1000) }], 'arm64');
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { ...amd, platform: { architecture: 'amd64', os: 'linux' } },
        { ...arm, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    }),
  );
  const d = l.blob(index, 'application/vnd.oci.image.index.v1+json');
  l.tag(tag, d);
  return d.digest;
}
