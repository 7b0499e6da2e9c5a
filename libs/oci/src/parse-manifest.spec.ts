import { MediaTypes, RegistryError, digestOf, parseManifest } from './index';

const d = (c: string) => 'sha256:' + c.repeat(64);
const desc = (c: string, mediaType: string = MediaTypes.ociLayerGzip) => ({ mediaType, digest: d(c), size: 10 });

function invalid(bytes: string, ct?: string): RegistryError {
  try {
    parseManifest(Buffer.from(bytes), ct);
  } catch (e) {
    if (RegistryError.is(e, 'MANIFEST_INVALID')) return e;
    throw e;
  }
  throw new Error('expected MANIFEST_INVALID');
}

describe('parseManifest', () => {
  const oci = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: 'application/vnd.example+json',
    config: desc('c', MediaTypes.ociEmpty),
    layers: [desc('1'), { ...desc('2'), annotations: { a: 'b' } }],
    subject: desc('e', MediaTypes.ociManifest),
    annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
  };

  it('digests the exact bytes, not a re-serialisation', () => {
    const pretty = Buffer.from(JSON.stringify(oci, null, 3) + '\n');
    const p = parseManifest(pretty, MediaTypes.ociManifest);
    expect(p.digest).toBe(digestOf(pretty));
    expect(p.size).toBe(pretty.length);
    expect(p.mediaType).toBe(MediaTypes.ociManifest);
    expect(p.references.map((r) => r.digest)).toEqual([d('c'), d('1'), d('2')]);
    expect(p.subject?.digest).toBe(d('e'));
    expect(p.artifactType).toBe('application/vnd.example+json');
    expect(p.annotations).toEqual(oci.annotations);
    expect(p.isIndex).toBe(false);
  });

  it('reads an OCI index with platforms and the Docker family', () => {
    const index = {
      schemaVersion: 2,
      manifests: [{ ...desc('a', MediaTypes.ociManifest), platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } }],
    };
    const p = parseManifest(Buffer.from(JSON.stringify(index)));
    expect(p.mediaType).toBe(MediaTypes.ociIndex);
    expect(p.isIndex).toBe(true);
    expect(p.references).toHaveLength(1);
    expect(p.artifactType).toBeUndefined();

    const docker = {
      schemaVersion: 2,
      mediaType: MediaTypes.dockerManifest,
      config: desc('c', MediaTypes.dockerConfig),
      layers: [desc('1', MediaTypes.dockerLayerGzip)],
    };
    const pd = parseManifest(Buffer.from(JSON.stringify(docker)), `${MediaTypes.dockerManifest}; charset=utf-8`);
    expect(pd.mediaType).toBe(MediaTypes.dockerManifest);
    expect(pd.artifactType).toBe(MediaTypes.dockerConfig);

    const list = { schemaVersion: 2, mediaType: MediaTypes.dockerManifestList, manifests: [desc('a', MediaTypes.dockerManifest)] };
    expect(parseManifest(Buffer.from(JSON.stringify(list)), 'application/json').mediaType).toBe(MediaTypes.dockerManifestList);

    const noType = { schemaVersion: 2, config: desc('c', MediaTypes.ociConfig), layers: [] };
    expect(parseManifest(Buffer.from(JSON.stringify(noType)), MediaTypes.ociManifest).mediaType).toBe(MediaTypes.ociManifest);
  });

  it('says what is wrong', () => {
    expect(invalid('{').detail).toMatchObject({ reason: expect.any(String) });
    expect(invalid('[1]').message).toMatch(/JSON object/);
    expect(invalid(JSON.stringify({ schemaVersion: 1, name: 'x' })).message).toMatch(/schema1/);
    expect(invalid(JSON.stringify(oci), MediaTypes.dockerManifest).message).toMatch(/does not match Content-Type/);
    expect(invalid(JSON.stringify({ ...oci, mediaType: 'text/plain' })).message).toMatch(/unsupported manifest media type/);
    const bad = invalid(JSON.stringify({ ...oci, layers: [{ mediaType: 'x', digest: 'sha256:zz', size: -1 }] }));
    const issues = (bad.detail as { issues: Array<{ path: string }> }).issues.map((i) => i.path);
    expect(issues).toEqual(expect.arrayContaining(['layers.0.mediaType', 'layers.0.digest', 'layers.0.size']));
    expect(invalid(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.dockerManifest, layers: [] })).status).toBe(400);
  });
});
