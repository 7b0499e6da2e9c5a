// Layer storage's paths parse back to what made them, each parser taking only its own kind (metadata's
// layout spec checks that its parser, over the same repositories/ tree, takes none of these).
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import type { Digest } from '@stevedore/oci';
import { blobPaths } from './blob-layout';

const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/).filter((s) => s.length > 0 && s.length < 20);
const name = fc.array(component, { minLength: 1, maxLength: 3 }).map((a) => a.join('/'));
const digest = fc.oneof(
  fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}` as Digest),
  fc.stringMatching(/^[a-f0-9]{128}$/).map((h) => `sha512:${h}` as Digest),
);

describe('blob layout', () => {
  it('puts blob data under the first two hex digits, as distribution does', () => {
    const d = ('sha256:' + 'ab'.repeat(32)) as Digest;
    expect(blobPaths.blobData(d)).toBe(`blobs/sha256/ab/${'ab'.repeat(32)}/data`);
  });

  it('parses blob data, layer links and upload objects back to what made them', () => {
    fc.assert(
      fc.property(name, digest, fc.nat(), (n, d, offset) => {
        const id = randomUUID();
        expect(blobPaths.parseBlobData(blobPaths.blobData(d))).toBe(d);
        expect(blobPaths.parseLayerLink(blobPaths.layerLink(n, d))).toEqual({ name: n, digest: d });
        const folder = blobPaths.uploadRoot(n, id);
        expect(blobPaths.parseUploadObject(blobPaths.uploadChunk(n, id, offset))).toEqual({ folder, id, startedAt: false });
        expect(blobPaths.parseUploadObject(blobPaths.uploadStartedAt(n, id))).toEqual({ folder, id, startedAt: true });
        expect(blobPaths.isUploadId(id)).toBe(true);
        // Each parser takes only its own kind of path.
        expect(blobPaths.parseLayerLink(blobPaths.uploadChunk(n, id, offset))).toBeUndefined();
        expect(blobPaths.parseUploadObject(blobPaths.layerLink(n, d))).toBeUndefined();
        expect(blobPaths.parseBlobData(blobPaths.layerLink(n, d))).toBeUndefined();
      }),
    );
  });

  it('orders an upload’s chunk objects by offset when listed by name', () => {
    const id = randomUUID();
    const offsets = [0, 9, 10, 1_048_576, 3_000_000_000];
    const keys = offsets.map((o) => blobPaths.uploadChunk('a', id, o));
    expect([...keys].sort()).toEqual(keys);
  });

  it('refuses upload ids it could not have made', () => {
    for (const id of ['', '../x', 'A'.repeat(36), `${randomUUID()}/x`]) expect(blobPaths.isUploadId(id)).toBe(false);
  });
});
