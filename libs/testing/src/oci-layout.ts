// Builds OCI image layouts on disk for the e2e tests, with real gzip'd tar layers made by the
// system's tar and gzip (so skopeo, umoci and docker-archive conversions see genuine layers).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface LayoutImage {
  dir: string;
  tag: string;
  manifestDigest: string;
  layerDigests: string[];
  /** Digests of the uncompressed layer tars (the config's rootfs.diff_ids). */
  diffIds: string[];
}

function writeBlob(dir: string, bytes: Buffer): { digest: string; size: number } {
  const hex = sha(bytes);
  writeFileSync(path.join(dir, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** A layer holding `files` (path -> content), as a gzip'd tar; returns the blob and its diff_id. */
export function makeLayer(files: Record<string, Buffer | string>): { gz: Buffer; diffId: string } {
  const work = mkdtempSync(path.join(os.tmpdir(), 'layer-'));
  try {
    const rootfs = path.join(work, 'root');
    mkdirSync(rootfs);
    for (const [p, content] of Object.entries(files)) {
      const full = path.join(rootfs, p);
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, content);
    }
    execFileSync('tar', [
      '-C',
      rootfs,
      '--numeric-owner',
      '--owner=0',
      '--group=0',
      '--mtime=@0',
      '--sort=name',
      '-cf',
      path.join(work, 'l.tar'),
      '.',
    ]);
    const tar = readFileSync(path.join(work, 'l.tar'));
    execFileSync('gzip', ['-n', '-1', path.join(work, 'l.tar')]);
    return { gz: readFileSync(path.join(work, 'l.tar.gz')), diffId: `sha256:${sha(tar)}` };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** An OCI layout with one image of `layerCount` layers, tagged `tag`. */
export function buildLayout(
  dir: string,
  tag: string,
  layers: Array<Record<string, Buffer | string>> = [{ 'etc/hello': 'hi' }, { 'data/blob': randomBytes(50_000) }],
  config: Record<string, unknown> = {},
): LayoutImage {
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const built = layers.map(makeLayer);
  const layerDescs = built.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...writeBlob(dir, l.gz) }));
  const cfg = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: { Cmd: ['/bin/sh'], ...config },
      rootfs: { type: 'layers', diff_ids: built.map((l) => l.diffId) },
      history: built.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'test' })),
    }),
  );
  const cfgDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', ...writeBlob(dir, cfg) };
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfgDesc, layers: layerDescs }),
  );
  const mDesc = writeBlob(dir, manifest);
  let index: { schemaVersion: number; manifests: unknown[] } = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
  } catch {
    // a new layout
  }
  index.manifests.push({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...mDesc,
    annotations: { 'org.opencontainers.image.ref.name': tag },
  });
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
  return { dir, tag, manifestDigest: mDesc.digest, layerDigests: layerDescs.map((l) => l.digest), diffIds: built.map((l) => l.diffId) };
}

export function policyFile(dir: string): string {
  const p = path.join(dir, 'policy.json');
  writeFileSync(p, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  return p;
}
