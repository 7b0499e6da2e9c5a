import type { Digest, ImageConfig, ImageManifest } from '@stevedore/oci';
import { historyOf, inspectImage, inspectIndex } from './image-inspect';

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const config: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  created: '2024-05-01T10:00:00Z',
  author: 'alex <452427904@qq.com>',
  config: { Cmd: ['/bin/httpd', '-f', '-h', '/home/html'], Env: ['PATH=/bin'] },
  rootfs: { type: 'layers', diff_ids: [d('1'), d('2')] },
  history: [
    { created: '2024-05-01T09:00:00Z', created_by: 'ADD rootfs' },
    { created: '2024-05-01T09:30:00Z', created_by: 'CMD ["/bin/sh"]', empty_layer: true },
    { created: '2024-05-01T10:00:00Z', created_by: 'commit', comment: 'add index.html' },
  ],
};
const manifest: ImageManifest = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('c'), size: 10 },
  layers: [
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('a'), size: 100 },
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('b'), size: 50 },
  ],
};

describe('docker inspect', () => {
  it('shows the fields docker inspect prints, Id being the config digest', () => {
    const i = inspectImage({
      name: 'music51555/bh',
      digest: d('f'),
      mediaType: String(manifest.mediaType),
      size: 300,
      manifest,
      config,
      tags: ['latest', 'v0.2'],
      layerSizes: [1000, 500],
    });
    expect(i.Id).toBe(d('c'));
    expect(i.RepoTags).toEqual(['music51555/bh:latest', 'music51555/bh:v0.2']);
    expect(i.RepoDigests).toEqual([`music51555/bh@${d('f')}`]);
    expect(i.Config.Cmd).toEqual(['/bin/httpd', '-f', '-h', '/home/html']);
    expect(i.Author).toBe('alex <452427904@qq.com>');
    expect(i.Comment).toBe('add index.html');
    expect(i.Size).toBe(1500);
    expect(i.CompressedSize).toBe(150);
    expect(i.RootFS).toEqual({ Type: 'layers', Layers: [d('1'), d('2')] });
    expect(i.Architecture).toBe('amd64');
    expect(i.Os).toBe('linux');
    expect(i.Parent).toBe('');
  });

  it('falls back to compressed sizes when the uncompressed ones are unknown', () => {
    const i = inspectImage({
      name: 'x',
      digest: d('f'),
      mediaType: String(manifest.mediaType),
      size: 1,
      manifest,
      config,
      tags: [],
      layerSizes: [undefined, 5],
    });
    expect(i.Size).toBe(150);
    expect(i.UncompressedSize).toBeNull();
    expect(i.RepoTags).toEqual([]);
  });

  it('lists an index by platform', () => {
    const i = inspectIndex({
      name: 'x',
      digest: d('9'),
      mediaType: 'application/vnd.oci.image.index.v1+json',
      size: 5,
      tags: ['multi'],
      available: new Set([d('a')]),
      index: {
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: d('a'),
            size: 1,
            platform: { os: 'linux', architecture: 'amd64' },
          },
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: d('b'),
            size: 1,
            platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          },
        ],
      },
    });
    expect(i.Platforms).toEqual(['linux/amd64', 'linux/arm64/v8']);
    expect(i.Manifests.map((m) => m.Available)).toEqual([true, false]);
  });
});

describe('docker history', () => {
  it('is newest first, empty layers have size 0, layers take the non-empty steps in order', () => {
    const h = historyOf({ imageId: d('c'), tags: ['x:1'], config, layers: manifest.layers, layerSizes: [1000, undefined] });
    expect(h.map((e) => [e.CreatedBy, e.Size, e.EmptyLayer])).toEqual([
      ['commit', 50, false],
      ['CMD ["/bin/sh"]', 0, true],
      ['ADD rootfs', 1000, false],
    ]);
    expect(h[0].Id).toBe(d('c'));
    expect(h[0].Tags).toEqual(['x:1']);
    expect(h[1].Id).toBe('<missing>');
    expect(h[2].Created).toBe(Date.parse('2024-05-01T09:00:00Z') / 1000);
  });

  it('gives every layer an entry when the config has no history', () => {
    const h = historyOf({
      imageId: d('c'),
      tags: [],
      config: { ...config, history: undefined },
      layers: manifest.layers,
      layerSizes: [1, 2],
    });
    expect(h.map((e) => e.Size)).toEqual([2, 1]);
  });
});
