// `docker run` of an image that is not here yet: creating the container pulls it through from the
// configured upstream (a reference registry), in both wirings (in split mode metadata-service
// hosts containers and wraps its services for pull-through).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  http,
  policyFile,
  startReferenceRegistry,
  startStevedore,
  type RunningRegistry,
  type StevedoreUnderTest,
} from '@stevedore/testing';
import { Api, baseLayout, expectStatus, run } from './helpers';

jest.setTimeout(300_000);

describe.each(['all', 'split'] as const)('container from a missing image (%s)', (wiring) => {
  let upstream: RunningRegistry;
  let sut: StevedoreUnderTest;
  let api: Api;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'commit-pull-'));
    upstream = await startReferenceRegistry();
    const layout = baseLayout(join(dir, 'layout'));
    await run('skopeo', [
      '--policy',
      policyFile(dir),
      'copy',
      '--dest-tls-verify=false',
      `oci:${layout.dir}:base`,
      `docker://${upstream.url.replace(/^http:\/\//, '')}/library/upbox:1`,
    ]);
    sut = await startStevedore({ wiring, commitWorkers: wiring === 'split' ? 1 : 0 });
    api = new Api(sut);
    expectStatus(
      await api.call('POST', '/api/v1/upstreams', { id: 'hub', url: upstream.url, prefixes: ['docker.io'], default: true }),
      201,
    );
  });
  afterAll(async () => {
    await sut?.stop();
    await upstream?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pulls the image through, runs the container over it and commits on top', async () => {
    const id = await api.create('docker.io/library/upbox:1');
    const httpd = expectStatus(await api.call('GET', `/api/v1/containers/${id}/files?path=/bin/httpd`), 200) as Buffer;
    expect(httpd.toString()).toContain('httpd placeholder');
    await api.write(id, '/etc/motd', 'pulled and changed\n');
    const done = await api.wait((await api.commit({ container: id, reference: 'local/upbox:2' })).id);
    expect(done.error).toBeUndefined();
    expect(done.state).toBe('completed');
    const r = await http(sut.url, 'GET', '/v2/local/upbox/manifests/2', undefined, {
      accept: 'application/vnd.oci.image.manifest.v1+json',
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString()).layers).toHaveLength(3);
  });
});
