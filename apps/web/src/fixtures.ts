// Contract-shaped answers the component tests share.
import type { AnswerOf, Session } from '@stevedore/api-contract';

export const DIGEST = 'sha256:' + 'ab'.repeat(32);
export const LAYER = 'sha256:' + 'cd'.repeat(32);

export const aliceSession: Session = {
  user: 'alice',
  admin: false,
  createdAt: '2026-12-02T10:00:00.000Z',
  expiresAt: '2026-12-02T22:00:00.000Z',
  csrfToken: 'c'.repeat(43),
};

export const repositories: AnswerOf<'listRepositories'> = {
  items: [
    { name: 'alice/busybox', lastPush: '2026-12-01T09:00:00.000Z', pulls: 12, tags: 2 },
    { name: 'alice/web', lastPush: null, pulls: 0, tags: 1 },
  ],
};

export const images: AnswerOf<'listImages'> = {
  items: [
    {
      repository: 'alice/busybox',
      tag: 'v1',
      digest: DIGEST,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      id: DIGEST,
      created: '2026-12-01T09:00:00.000Z',
      compressedSize: 2_345_678,
      uncompressedSize: 4_500_000,
      platforms: ['linux/amd64'],
    },
  ],
};

export const inspect: AnswerOf<'inspectImage'> = {
  Id: DIGEST,
  RepoTags: ['alice/busybox:v1'],
  RepoDigests: [`alice/busybox@${DIGEST}`],
  Parent: '',
  Comment: 'made by hand',
  Created: '2026-12-01T09:00:00.000Z',
  DockerVersion: '',
  Author: 'Jane Doe <jane@example.com>',
  Config: { Cmd: ['/bin/httpd', '-f', '-h', '/home/html'], Env: ['PATH=/bin'], WorkingDir: '/home' },
  Architecture: 'amd64',
  Os: 'linux',
  Size: 4_500_000,
  RootFS: { Type: 'layers', Layers: [LAYER] },
  Metadata: { LastTagTime: '2026-12-01T09:00:00.000Z' },
  Descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: DIGEST, size: 400 },
  CompressedSize: 2_345_678,
  UncompressedSize: 4_500_000,
};

export const history: AnswerOf<'imageHistory'> = [
  {
    Id: DIGEST,
    Created: 1764579600,
    CreatedBy: '/bin/sh -c #(nop) CMD ["/bin/httpd"]',
    Tags: ['alice/busybox:v1'],
    Size: 0,
    Comment: '',
    EmptyLayer: true,
  },
  {
    Id: '<missing>',
    Created: 1764579500,
    CreatedBy: '/bin/sh -c #(nop) ADD file:rootfs in /',
    Tags: null,
    Size: 4_500_000,
    Comment: '',
    EmptyLayer: false,
    LayerDigest: LAYER,
    CompressedSize: 2_345_678,
  },
];
