import { Readable } from 'node:stream';
import {
  ErrorCodes,
  MediaTypes,
  RegistryError,
  buildImage,
  decompressStream,
  detectCompression,
  digestOf,
  imageFromBlobs,
  isIndexMediaType,
  isManifestMediaType,
  layerCompression,
  layerFromBytes,
  layerMediaTypeFor,
  peek,
  type ErrorCode,
} from './index';
import { baseConfig, readAll, sampleImage, tarOf } from '../test/helpers';

async function code(p: Promise<unknown>): Promise<ErrorCode | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (RegistryError.is(e) ? e.code : undefined),
  );
}

describe('Image and Layer', () => {
  it('builds OCI and Docker images whose parts agree', async () => {
    const oci = await sampleImage('x');
    const m = await oci.manifest();
    expect(await oci.mediaType()).toBe(MediaTypes.ociManifest);
    expect(m.config.mediaType).toBe(MediaTypes.ociConfig);
    expect(await oci.digest()).toBe(digestOf(await oci.rawManifest()));
    expect((await oci.configFile()).rootfs.diff_ids).toEqual(await Promise.all((await oci.layers()).map((l) => l.diffId())));

    const docker = await sampleImage('x', 'docker');
    expect((await docker.manifest()).layers[0].mediaType).toBe(MediaTypes.dockerLayerGzip);
    expect(await docker.configName()).toBe(await oci.configName());

    const annotated = await buildImage({ config: baseConfig, layers: [], annotations: { a: 'b' } });
    expect((await annotated.manifest()) as { annotations?: unknown }).toMatchObject({ annotations: { a: 'b' } });
    expect(await code(buildImage({ layers: [] }))).toBe('INVALID_REQUEST');
    expect(layerMediaTypeFor('oci', MediaTypes.dockerLayer)).toBe(MediaTypes.ociLayer);
    expect(layerMediaTypeFor('docker', MediaTypes.ociLayerZstd)).toBe(MediaTypes.ociLayerZstd);
  });

  it('imageFromBlobs checks what it is given', async () => {
    const img = await sampleImage('y');
    const rawManifest = await img.rawManifest();
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] }));
    expect(() => imageFromBlobs({ rawManifest: index, openBlob: async () => Readable.from([]) })).toThrow(/got an index/);

    const tampered = imageFromBlobs({ rawManifest, openBlob: async () => Readable.from([Buffer.from('{}')]) });
    expect(await code(tampered.configFile())).toBe('DIGEST_INVALID');

    const rawConfig = await img.rawConfigFile();
    const fromBlobs = imageFromBlobs({ rawManifest, openBlob: async () => Readable.from([rawConfig]) });
    expect((await fromBlobs.configFile()).author).toBe('y');

    const fewer = Buffer.from(JSON.stringify({ ...JSON.parse(rawConfig.toString()), rootfs: { type: 'layers', diff_ids: [] } }));
    const m = JSON.parse(rawManifest.toString());
    m.config = { ...m.config, digest: digestOf(fewer), size: fewer.length };
    const mismatched = imageFromBlobs({
      rawManifest: Buffer.from(JSON.stringify(m)),
      rawConfig: fewer,
      openBlob: async () => Readable.from([]),
    });
    // Layers list from the manifest; the disagreement shows when a diff_id is asked for.
    expect(await code(mismatched.layers().then((ls) => ls[0].diffId()))).toBe('MANIFEST_INVALID');

    const built = await buildImage({ config: baseConfig, layers: [layerFromBytes(await tarOf({ a: 'b' }), MediaTypes.ociLayer)] });
    const other = layerFromBytes(Buffer.from('zz'));
    const stranger = imageFromBlobs({
      rawManifest: await built.rawManifest(),
      rawConfig: await built.rawConfigFile(),
      openBlob: async () => other.compressed(),
    });
    expect((await readAll(await (await stranger.layers())[0].compressed())).toString()).toBe('zz');
  });
});

describe('compression', () => {
  it('detects by magic bytes, and short input is plain', async () => {
    expect(detectCompression(Buffer.from([0x1f]))).toBe('none');
    expect(detectCompression(Buffer.from([]))).toBe('none');
    const empty = await decompressStream(Readable.from([]));
    expect(empty.compression).toBe('none');
    expect(await readAll(empty.stream)).toEqual(Buffer.alloc(0));
    const p = await peek(Readable.from([Buffer.from('ab'), Buffer.from('cdefgh')]), 3);
    expect(p.bytes.length).toBeGreaterThanOrEqual(3);
    expect((await readAll(p.stream)).toString()).toBe('abcdefgh');
    const failing = new Readable({
      read() {
        this.destroy(new Error('boom'));
      },
    });
    await expect(peek(failing, 4)).rejects.toThrow('boom');
  });
});

describe('errors and media types', () => {
  it('renders the envelope and rebuilds it', () => {
    const e = new RegistryError('BLOB_UNKNOWN', undefined, { digest: 'x' });
    expect(e.status).toBe(404);
    expect(e.envelope()).toEqual({ errors: [{ code: 'BLOB_UNKNOWN', message: ErrorCodes.BLOB_UNKNOWN.message, detail: { digest: 'x' } }] });
    expect(new RegistryError('DENIED').toJSON()).toEqual({ code: 'DENIED', message: ErrorCodes.DENIED.message });
    const back = RegistryError.fromEnvelope(404, e.envelope());
    expect(back.code).toBe('BLOB_UNKNOWN');
    expect(RegistryError.fromEnvelope(502, 'html').code).toBe('INTERNAL');
    expect(RegistryError.fromEnvelope(418, {}).code).toBe('INVALID_REQUEST');
  });

  it('classifies media types', () => {
    expect(isIndexMediaType(MediaTypes.dockerManifestList)).toBe(true);
    expect(isIndexMediaType(undefined)).toBe(false);
    expect(isManifestMediaType(MediaTypes.ociManifest)).toBe(true);
    expect(layerCompression(MediaTypes.dockerLayerGzip)).toBe('gzip');
    expect(layerCompression(MediaTypes.ociLayerZstd)).toBe('zstd');
    expect(layerCompression(MediaTypes.ociLayer)).toBe('none');
    expect(layerCompression('application/octet-stream')).toBeUndefined();
  });
});
