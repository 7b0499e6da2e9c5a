// kill -9 in the middle of a copy (libs/oci copy: load and replication; a commit's kill is in
// libs/commits batch.e2e): the process dies while blobs move, and no tag ever names anything
// incomplete; after the restart the job runs again (BullMQ's stalled-job recovery) and finishes.
import { randomBytes } from 'node:crypto';
import { MediaTypes, buildImage, digestOf, layerFromBytes, writeArchive, type ImageConfig } from '@stevedore/oci';
import {
  OCI_MANIFEST,
  http,
  pushImage,
  pullWhole,
  startReferenceRegistry,
  startStevedore,
  waitFor,
  type StevedoreUnderTest,
  type UncheckedJson,
} from '@stevedore/testing';

jest.setTimeout(300_000);

const baseConfig: ImageConfig = { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } };

async function pullable(base: string, name: string, tag: string): Promise<void> {
  const r = await pullWhole(base, name, tag, `${OCI_MANIFEST}, ${MediaTypes.dockerManifest}`);
  expect({ tag, ...r }).toEqual({ tag, ok: true, digest: expect.stringMatching(/^sha256:/) });
}

/** Tags that exist pull whole; returns which exist. */
async function tagsWhole(base: string, name: string, tags: string[]): Promise<string[]> {
  const present: string[] = [];
  for (const t of tags) {
    const h = await http(base, 'HEAD', `/v2/${name}/manifests/${t}`, undefined, { accept: OCI_MANIFEST });
    if (h.status === 404) continue;
    await pullable(base, name, t);
    present.push(t);
  }
  return present;
}

describe('kill -9 mid-copy (all-in-one)', () => {
  let s: StevedoreUnderTest;
  beforeAll(async () => {
    s = await startStevedore();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('mid-load: no tag before every blob is stored; the load finishes after the restart', async () => {
    // Big enough that the load is still storing when the poll below sees it: at 24 MB a layer, a
    // faster platform once finished before the kill.
    const layers = [0, 1, 2].map(() => randomBytes(48 * 1024 * 1024));
    const images = await Promise.all(
      [0, 1].map((i) =>
        buildImage({
          config: { ...baseConfig, author: `crash ${i}` },
          layers: layers.slice(i, i + 2).map((b) => layerFromBytes(b, MediaTypes.ociLayer, digestOf(b))),
        }),
      ),
    );
    const chunks: Buffer[] = [];
    for await (const c of writeArchive(images.map((image, i) => ({ image, tags: [`crashload/app:v${i}`] })))) chunks.push(c as Buffer);
    const archive = Buffer.concat(chunks);
    const posted = await http(s.url, 'POST', '/api/v1/imports', archive, { 'content-type': 'application/x-tar' });
    expect(posted.status).toBe(202);
    const id = posted.json().id as string;
    // Kill once the job is storing blobs, before it is done.
    await waitFor(
      async () => {
        const st = (await http(s.url, 'GET', `/api/v1/imports/${id}`)).json();
        if (st.state === 'completed') throw new Error('the load finished before the kill: make the archive bigger');
        return st.progress?.phase === 'storing' && st.progress.bytes > 8 * 1024 * 1024;
      },
      60_000,
      5,
    );
    s.kill();
    await s.restart();
    // Right after the restart: whatever tag exists is whole (none should, the tags come last).
    expect(await tagsWhole(s.url, 'crashload/app', ['v0', 'v1'])).toEqual([]);
    let last: UncheckedJson;
    await waitFor(
      async () => {
        last = (await http(s.url, 'GET', `/api/v1/imports/${id}`)).json();
        return last.state === 'completed' || last.state === 'failed';
      },
      180_000,
      500,
    );
    expect({ state: last.state, error: last.error }).toEqual({ state: 'completed', error: undefined });
    expect(await tagsWhole(s.url, 'crashload/app', ['v0', 'v1'])).toEqual(['v0', 'v1']);
  });

  it('mid-replication: the target never has the tag before its blobs; the job finishes after the restart', async () => {
    const target = await startReferenceRegistry();
    try {
      expect(
        (
          await http(s.url, 'POST', '/api/v1/upstreams', JSON.stringify({ id: 'crash-target', url: target.url }), {
            'content-type': 'application/json',
          })
        ).status,
      ).toBe(201);
      const img = await pushImage(s.url, 'crashrep/app', 'v1', { layers: [randomBytes(40 * 1024 * 1024), randomBytes(40 * 1024 * 1024)] });
      const posted = await http(
        s.url,
        'POST',
        '/api/v1/replications',
        JSON.stringify({ source: 'crashrep/app:v1', target: { upstream: 'crash-target', name: 'mirror/app', tag: 'v1' } }),
        {
          'content-type': 'application/json',
        },
      );
      expect(posted.status).toBe(202);
      const id = posted.json().id as string;
      await waitFor(
        async () => {
          const st = (await http(s.url, 'GET', `/api/v1/replications/${id}`)).json();
          if (st.state === 'completed') throw new Error('the replication finished before the kill: make the image bigger');
          return st.progress?.phase === 'blobs' && st.progress.bytes.done > 8 * 1024 * 1024;
        },
        60_000,
        5,
      );
      s.kill();
      // The process is dead mid-copy: the target has no tag yet.
      expect((await fetch(`${target.url}/v2/mirror/app/manifests/v1`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } })).status).toBe(
        404,
      );
      await s.restart();
      let last: UncheckedJson;
      await waitFor(
        async () => {
          last = (await http(s.url, 'GET', `/api/v1/replications/${id}`)).json();
          return last.state === 'completed';
        },
        240_000,
        500,
      );
      expect(last.result.digest).toBe(img.digest);
      await pullable(target.url, 'mirror/app', 'v1');
    } finally {
      await target.stop();
    }
  });
});
