// The distribution spec's four workflows (pull, push, content discovery, content management) and
// its error cases, against real processes: all-in-one and split, filesystem and S3 storage.
import { randomBytes } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { startStevedore, type StevedoreUnderTest, type StorageKind, type Wiring } from '@stevedore/testing';
import { OCI_INDEX, OCI_MANIFEST, errorCode, http, pushBlob, pushImage, sha256 } from '@stevedore/testing';

jest.setTimeout(180_000);

const matrix: Array<[Wiring, StorageKind]> = [
  ['all', 'filesystem'],
  ['split', 'filesystem'],
  ['all', 's3'],
  ['split', 's3'],
];

describe.each(matrix)('distribution API (%s, %s)', (wiring, storage) => {
  let s: StevedoreUnderTest;
  let base: string;
  beforeAll(async () => {
    s = await startStevedore({ wiring, storage });
    base = s.url;
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('answers /v2/ with the API version header', async () => {
    const r = await http(base, 'GET', '/v2/');
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it("answers a HEAD with the GET's Content-Length, so Node's http client keeps the connection", async () => {
    // Anonymous, as a client's first request is: a 401 with its challenge, or the 404 where auth is off.
    const missing = `/v2/keep/alive/blobs/${sha256('nothing here')}`;
    const gets = new Map<string, { status: number; length?: string }>();
    for (const path of [missing, '/v2/']) {
      const r = await fetch(new URL(path, base));
      gets.set(path, { status: r.status, length: String((await r.arrayBuffer()).byteLength) });
    }
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    let sockets = 0;
    const created = agent.createConnection.bind(agent);
    agent.createConnection = ((...args: Parameters<typeof created>) => {
      sockets++;
      return created(...args);
    }) as typeof agent.createConnection;
    try {
      for (const path of [missing, '/v2/', missing, '/v2/']) {
        const head = await new Promise<{ status: number; length?: string }>((resolve, reject) => {
          const req = httpRequest(new URL(path, base), { method: 'HEAD', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode!, length: res.headers['content-length'] }));
          });
          req.on('error', reject).end();
        });
        expect(head).toEqual(gets.get(path));
      }
      // Without a Content-Length on a HEAD, Node's client opened a new connection for every one of these.
      expect(sockets).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  describe('push', () => {
    it('monolithic POST+PUT, then HEAD finds the blob with its digest and size', async () => {
      const data = randomBytes(3000);
      const d = await pushBlob(base, 'push/mono', data);
      const head = await http(base, 'HEAD', `/v2/push/mono/blobs/${d}`);
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe('3000');
      expect(head.headers.get('docker-content-digest')).toBe(d);
    });

    it('single POST with digest', async () => {
      const data = randomBytes(100);
      const d = sha256(data);
      const r = await http(base, 'POST', `/v2/push/single/blobs/uploads/?digest=${d}`, data, {
        'content-type': 'application/octet-stream',
      });
      expect(r.status).toBe(201);
      expect(r.headers.get('location')).toBe(`/v2/push/single/blobs/${d}`);
      expect((await http(base, 'GET', `/v2/push/single/blobs/${d}`)).body.equals(data)).toBe(true);
    });

    it('chunked PATCH with Content-Range, status GET, then PUT', async () => {
      const data = randomBytes(250_000);
      const d = sha256(data);
      const post = await http(base, 'POST', '/v2/push/chunked/blobs/uploads/');
      expect(post.status).toBe(202);
      let loc = post.headers.get('location')!;
      const parts = [data.subarray(0, 100_000), data.subarray(100_000, 200_000), data.subarray(200_000)];
      let offset = 0;
      for (const part of parts) {
        const r = await http(base, 'PATCH', loc, part, {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + part.length - 1}`,
          'content-length': String(part.length),
        });
        expect(r.status).toBe(202);
        offset += part.length;
        expect(r.headers.get('range')).toBe(`0-${offset - 1}`);
        loc = r.headers.get('location')!;
      }
      const status = await http(base, 'GET', loc);
      expect(status.status).toBe(204);
      expect(status.headers.get('range')).toBe(`0-${data.length - 1}`);
      const put = await http(base, 'PUT', `${loc}?digest=${d}`);
      expect(put.status).toBe(201);
      const get = await http(base, 'GET', `/v2/push/chunked/blobs/${d}`);
      expect(get.body.equals(data)).toBe(true);
    });

    it('cross-repository mount links without an upload; an unknown source falls back to an upload', async () => {
      const d = await pushBlob(base, 'push/src', randomBytes(500));
      const r = await http(base, 'POST', `/v2/push/dst/blobs/uploads/?mount=${d}&from=push/src`);
      expect(r.status).toBe(201);
      expect(r.headers.get('location')).toBe(`/v2/push/dst/blobs/${d}`);
      expect((await http(base, 'HEAD', `/v2/push/dst/blobs/${d}`)).status).toBe(200);
      const miss = await http(base, 'POST', `/v2/push/dst2/blobs/uploads/?mount=${sha256('nope')}&from=push/src`);
      expect(miss.status).toBe(202);
    });

    it('manifest PUT by tag answers 201 with Location and digest', async () => {
      const img = await pushImage(base, 'push/img', 'v1');
      const r = await http(base, 'HEAD', '/v2/push/img/manifests/v1');
      expect(r.status).toBe(200);
      expect(r.headers.get('docker-content-digest')).toBe(img.digest);
    });

    it('cancels an upload, after which it is unknown', async () => {
      const post = await http(base, 'POST', '/v2/push/cancel/blobs/uploads/');
      const loc = post.headers.get('location')!;
      expect((await http(base, 'DELETE', loc)).status).toBe(204);
      const r = await http(base, 'GET', loc);
      expect(r.status).toBe(404);
      expect(errorCode(r)).toBe('BLOB_UPLOAD_UNKNOWN');
    });
  });

  describe('pull', () => {
    let img: Awaited<ReturnType<typeof pushImage>>;
    beforeAll(async () => {
      img = await pushImage(base, 'pull/img', 'latest', { layers: [randomBytes(10_000), randomBytes(20)] });
    });

    it('GET manifest by tag and by digest returns the exact bytes and media type', async () => {
      for (const ref of ['latest', img.digest]) {
        const r = await http(base, 'GET', `/v2/pull/img/manifests/${ref}`, undefined, { accept: OCI_MANIFEST });
        expect(r.status).toBe(200);
        expect(r.body.equals(img.manifest)).toBe(true);
        expect(r.headers.get('content-type')).toBe(OCI_MANIFEST);
        expect(r.headers.get('docker-content-digest')).toBe(img.digest);
      }
    });

    it('GET blob, and a Range GET answers 206 with Content-Range', async () => {
      const l = img.layers[0];
      const r = await http(base, 'GET', `/v2/pull/img/blobs/${l.digest}`);
      expect(r.status).toBe(200);
      expect(r.body.equals(l.bytes)).toBe(true);
      const part = await http(base, 'GET', `/v2/pull/img/blobs/${l.digest}`, undefined, { range: 'bytes=100-199' });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 100-199/${l.size}`);
      expect(part.body.equals(l.bytes.subarray(100, 200))).toBe(true);
      const bad = await http(base, 'GET', `/v2/pull/img/blobs/${l.digest}`, undefined, { range: `bytes=${l.size + 10}-` });
      expect(bad.status).toBe(416);
    });

    it('GET of a blob past the small-blob cache streams every chunk, with the same headers and ranges', async () => {
      // Several 1 MiB read chunks and a short last one: the filesystem sends these from storage
      // through recycled buffers, not from the in-process cache the 10 KB layer above comes from.
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const digest = await pushBlob(base, 'pull/big', data);
      const r = await http(base, 'GET', `/v2/pull/big/blobs/${digest}`);
      expect(r.status).toBe(200);
      expect(sha256(r.body)).toBe(digest);
      expect(r.headers.get('content-length')).toBe(String(data.length));
      expect(r.headers.get('docker-content-digest')).toBe(digest);
      expect(r.headers.get('etag')).toBe(`"${digest}"`);
      expect(r.headers.get('content-type')).toBe('application/octet-stream');
      expect(r.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
      expect(r.headers.get('x-request-id')).toBeTruthy();
      const mid = 1024 * 1024 - 5;
      const part = await http(base, 'GET', `/v2/pull/big/blobs/${digest}`, undefined, { range: `bytes=${mid}-${mid + 1024 * 1024}` });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes ${mid}-${mid + 1024 * 1024}/${data.length}`);
      expect(part.body.equals(data.subarray(mid, mid + 1024 * 1024 + 1))).toBe(true);
      const tail = await http(base, 'GET', `/v2/pull/big/blobs/${digest}`, undefined, { range: 'bytes=-100' });
      expect(tail.status).toBe(206);
      expect(tail.body.equals(data.subarray(data.length - 100))).toBe(true);
    });

    it('unknown manifest and blob answer 404 with the spec codes', async () => {
      const m = await http(base, 'GET', '/v2/pull/img/manifests/nope');
      expect(m.status).toBe(404);
      expect(errorCode(m)).toBe('MANIFEST_UNKNOWN');
      const b = await http(base, 'GET', `/v2/pull/img/blobs/${sha256('none')}`);
      expect(b.status).toBe(404);
      expect(errorCode(b)).toBe('BLOB_UNKNOWN');
      // A blob of another repository is not visible here.
      const other = await http(base, 'GET', `/v2/pull/other/blobs/${img.layers[0].digest}`);
      expect(other.status).toBe(404);
    });
  });

  describe('content discovery', () => {
    it('lists tags in lexical order with n/last pagination and a Link header', async () => {
      const img = await pushImage(base, 'disc/tags', 'a');
      for (const t of ['c', 'b', 'e', 'd']) {
        expect((await http(base, 'PUT', `/v2/disc/tags/manifests/${t}`, img.manifest, { 'content-type': OCI_MANIFEST })).status).toBe(201);
      }
      const all = await http(base, 'GET', '/v2/disc/tags/tags/list');
      expect(all.json()).toEqual({ name: 'disc/tags', tags: ['a', 'b', 'c', 'd', 'e'] });
      const p1 = await http(base, 'GET', '/v2/disc/tags/tags/list?n=2');
      expect(p1.json().tags).toEqual(['a', 'b']);
      expect(p1.headers.get('link')).toBe('</v2/disc/tags/tags/list?n=2&last=b>; rel="next"');
      const p2 = await http(base, 'GET', '/v2/disc/tags/tags/list?n=2&last=b');
      expect(p2.json().tags).toEqual(['c', 'd']);
      const p3 = await http(base, 'GET', '/v2/disc/tags/tags/list?n=2&last=d');
      expect(p3.json().tags).toEqual(['e']);
      expect(p3.headers.get('link')).toBeNull();
      const unknown = await http(base, 'GET', '/v2/disc/none/tags/list');
      expect(unknown.status).toBe(404);
      expect(errorCode(unknown)).toBe('NAME_UNKNOWN');
    });

    it('lists the catalog with pagination', async () => {
      await pushImage(base, 'disc/cat-a', 'x');
      await pushImage(base, 'disc/cat-b', 'x');
      const r = await http(base, 'GET', '/v2/_catalog');
      expect(r.json().repositories).toEqual(expect.arrayContaining(['disc/cat-a', 'disc/cat-b']));
      const p = await http(base, 'GET', '/v2/_catalog?n=1&last=disc/cat-a');
      expect(p.json().repositories).toEqual(['disc/cat-b']);
    });

    it('finds referrers of a subject, filtered by artifactType, with OCI-Subject on push', async () => {
      const subject = await pushImage(base, 'disc/ref', 'base');
      const subj = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length };
      const sigType = 'application/vnd.example.signature';
      const sbomType = 'application/vnd.example.sbom';
      const sig = await pushImage(base, 'disc/ref', 'sig', { subject: subj, artifactType: sigType });
      const sbom = await pushImage(base, 'disc/ref', 'sbom', { subject: subj, artifactType: sbomType });
      const put = await http(base, 'PUT', `/v2/disc/ref/manifests/${sig.digest}`, sig.manifest, { 'content-type': OCI_MANIFEST });
      expect(put.headers.get('oci-subject')).toBe(subject.digest);
      const all = await http(base, 'GET', `/v2/disc/ref/referrers/${subject.digest}`);
      expect(all.status).toBe(200);
      expect(all.headers.get('content-type')).toBe(OCI_INDEX);
      const idx = all.json();
      expect(idx.mediaType).toBe(OCI_INDEX);
      expect(idx.manifests.map((m: { digest: string }) => m.digest).sort()).toEqual([sig.digest, sbom.digest].sort());
      const filtered = await http(base, 'GET', `/v2/disc/ref/referrers/${subject.digest}?artifactType=${encodeURIComponent(sbomType)}`);
      expect(filtered.headers.get('oci-filters-applied')).toBe('artifactType');
      expect(filtered.json().manifests).toEqual([
        { mediaType: OCI_MANIFEST, digest: sbom.digest, size: sbom.manifest.length, artifactType: sbomType },
      ]);
      const none = await http(base, 'GET', `/v2/disc/ref/referrers/${sha256('x')}`);
      expect(none.status).toBe(200);
      expect(none.json().manifests).toEqual([]);
    });
  });

  describe('content management', () => {
    it('deletes a tag (manifest stays), a manifest (its tags go) and a blob', async () => {
      const img = await pushImage(base, 'mgmt/img', 'one');
      expect((await http(base, 'PUT', '/v2/mgmt/img/manifests/two', img.manifest, { 'content-type': OCI_MANIFEST })).status).toBe(201);
      expect((await http(base, 'DELETE', '/v2/mgmt/img/manifests/one')).status).toBe(202);
      expect((await http(base, 'GET', '/v2/mgmt/img/manifests/one')).status).toBe(404);
      expect((await http(base, 'GET', `/v2/mgmt/img/manifests/${img.digest}`)).status).toBe(200);
      expect((await http(base, 'DELETE', `/v2/mgmt/img/manifests/${img.digest}`)).status).toBe(202);
      expect((await http(base, 'GET', `/v2/mgmt/img/manifests/${img.digest}`)).status).toBe(404);
      expect((await http(base, 'GET', '/v2/mgmt/img/manifests/two')).status).toBe(404);
      expect((await http(base, 'GET', '/v2/mgmt/img/tags/list')).json().tags).toEqual([]);
      const l = img.layers[0].digest;
      expect((await http(base, 'DELETE', `/v2/mgmt/img/blobs/${l}`)).status).toBe(202);
      expect((await http(base, 'HEAD', `/v2/mgmt/img/blobs/${l}`)).status).toBe(404);
    });
  });

  describe('bad input: the spec error, and nothing stored', () => {
    it('digest mismatch on PUT answers DIGEST_INVALID and the blob does not exist', async () => {
      const post = await http(base, 'POST', '/v2/bad/digest/blobs/uploads/');
      const wrong = sha256('something else');
      const r = await http(base, 'PUT', `${post.headers.get('location')}?digest=${wrong}`, Buffer.from('hello'), {
        'content-type': 'application/octet-stream',
      });
      expect(r.status).toBe(400);
      expect(errorCode(r)).toBe('DIGEST_INVALID');
      expect((await http(base, 'HEAD', `/v2/bad/digest/blobs/${wrong}`)).status).toBe(404);
      expect((await http(base, 'HEAD', `/v2/bad/digest/blobs/${sha256('hello')}`)).status).toBe(404);
    });

    it('a chunk at the wrong offset answers 416 and the upload keeps its offset', async () => {
      const post = await http(base, 'POST', '/v2/bad/range/blobs/uploads/');
      const loc = post.headers.get('location')!;
      await http(base, 'PATCH', loc, Buffer.from('abcd'), { 'content-type': 'application/octet-stream', 'content-range': '0-3' });
      const r = await http(base, 'PATCH', loc, Buffer.from('efgh'), {
        'content-type': 'application/octet-stream',
        'content-range': '10-13',
      });
      expect(r.status).toBe(416);
      const st = await http(base, 'GET', loc);
      expect(st.headers.get('range')).toBe('0-3');
    });

    it('an unknown upload id answers BLOB_UPLOAD_UNKNOWN', async () => {
      const r = await http(base, 'PATCH', '/v2/bad/upload/blobs/uploads/00000000-0000-0000-0000-000000000000', Buffer.from('x'), {
        'content-type': 'application/octet-stream',
      });
      expect(r.status).toBe(404);
      expect(errorCode(r)).toBe('BLOB_UPLOAD_UNKNOWN');
    });

    it('a manifest naming a missing blob answers MANIFEST_BLOB_UNKNOWN and is not stored', async () => {
      const missing = sha256('missing layer');
      const cfg = await pushBlob(base, 'bad/manifest', Buffer.from('{}'));
      const m = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg, size: 2 },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: missing, size: 10 }],
        }),
      );
      const r = await http(base, 'PUT', '/v2/bad/manifest/manifests/t', m, { 'content-type': OCI_MANIFEST });
      expect(r.status).toBe(404);
      expect(errorCode(r)).toBe('MANIFEST_BLOB_UNKNOWN');
      expect(JSON.stringify(r.json().errors[0].detail)).toContain(missing);
      expect((await http(base, 'GET', `/v2/bad/manifest/manifests/${sha256(m)}`)).status).toBe(404);
      expect((await http(base, 'GET', '/v2/bad/manifest/manifests/t')).status).toBe(404);
    });

    it('invalid JSON, an unsupported media type and an oversized manifest answer MANIFEST_INVALID', async () => {
      const r1 = await http(base, 'PUT', '/v2/bad/json/manifests/t', Buffer.from('{not json'), { 'content-type': OCI_MANIFEST });
      expect(r1.status).toBe(400);
      expect(errorCode(r1)).toBe('MANIFEST_INVALID');
      const r2 = await http(
        base,
        'PUT',
        '/v2/bad/json/manifests/t',
        Buffer.from('{"schemaVersion":2,"mediaType":"application/x-unknown"}'),
        { 'content-type': 'application/x-unknown' },
      );
      expect(r2.status).toBeGreaterThanOrEqual(400);
      expect(['MANIFEST_INVALID', 'UNSUPPORTED']).toContain(errorCode(r2));
      const huge = Buffer.alloc(4 * 1024 * 1024 + 10, 0x20);
      const r3 = await http(base, 'PUT', '/v2/bad/json/manifests/t', huge, { 'content-type': OCI_MANIFEST });
      expect([400, 413]).toContain(r3.status);
      expect(errorCode(r3)).toBe('MANIFEST_INVALID');
      expect((await http(base, 'GET', '/v2/bad/json/manifests/t')).status).toBe(404);
    });

    it('a bad repository name answers NAME_INVALID and a bad tag TAG_INVALID', async () => {
      const r1 = await http(base, 'GET', '/v2/Bad_Name/manifests/latest');
      expect(r1.status).toBe(400);
      expect(errorCode(r1)).toBe('NAME_INVALID');
      const img = await pushImage(base, 'bad/tag', 'ok');
      const r2 = await http(base, 'PUT', `/v2/bad/tag/manifests/${'-bad'}`, img.manifest, { 'content-type': OCI_MANIFEST });
      expect(r2.status).toBe(400);
      expect(errorCode(r2)).toBe('TAG_INVALID');
    });
  });
});
