// GET /api/v1/images/referrers against a real Stevedore: the artifacts pushed with the image as their
// subject (a signature, an SBOM), with their artifact types, by tag or digest, filtered by type;
// the same list the OCI referrers API gives.
import { startStevedore, http, pushImage, type StevedoreUnderTest, type UncheckedJson } from '@stevedore/testing';

jest.setTimeout(120_000);

let sut: StevedoreUnderTest;
beforeAll(async () => {
  sut = await startStevedore({ wiring: 'all' });
});
afterAll(async () => {
  await sut?.stop();
});

const referrers = (q: string) => http(sut.url, 'GET', `/api/v1/images/referrers?${q}`);
const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SBOM = 'application/spdx+json';

describe('GET /api/v1/images/referrers', () => {
  it('lists the signature and SBOM that name the image, by tag and by digest, and filters by artifact type', async () => {
    const image = await pushImage(sut.url, 'ref/app', 'v1');
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.digest, size: image.manifest.length };
    const sig = await pushImage(sut.url, 'ref/app', 'sig', { artifactType: SIG, subject });
    const sbom = await pushImage(sut.url, 'ref/app', 'sbom', { artifactType: SBOM, subject });

    const byTag = await referrers('ref=ref/app:v1');
    expect(byTag.status).toBe(200);
    const body = byTag.json();
    expect(body).toMatchObject({ repository: 'ref/app', subject: image.digest });
    const found = body.referrers.map((r: UncheckedJson) => [r.digest, r.artifactType]).sort();
    expect(found).toEqual(
      [
        [sig.digest, SIG],
        [sbom.digest, SBOM],
      ].sort(),
    );
    // The same list as the OCI referrers API.
    const oci = (await http(sut.url, 'GET', `/v2/ref/app/referrers/${image.digest}`)).json();
    expect(oci.manifests.map((m: UncheckedJson) => m.digest).sort()).toEqual(found.map((f: string[]) => f[0]));

    const byDigest = (await referrers(`ref=ref/app@${image.digest}`)).json();
    expect(byDigest.referrers).toHaveLength(2);
    const filtered = (await referrers(`ref=ref/app:v1&artifactType=${encodeURIComponent(SBOM)}`)).json();
    expect(filtered.referrers.map((r: UncheckedJson) => r.digest)).toEqual([sbom.digest]);
    // The signature itself has none.
    expect((await referrers('ref=ref/app:sig')).json().referrers).toEqual([]);
  });

  it('answers a missing image 404 and a missing ref 400', async () => {
    expect((await referrers('ref=ref/none:v1')).status).toBe(404);
    const bad = await referrers('');
    expect(bad.status).toBe(400);
    expect(bad.json().errors[0]).toMatchObject({ code: 'INVALID_REQUEST' });
  });
});
