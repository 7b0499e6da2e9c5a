// Image IDs on the split wiring (blob-service, metadata-service, gateway): the gateway asks the
// image-ID index over metadata's RPC, so an ID resolves across repositories there as in one
// process, an ambiguous prefix is refused, and rmi -f by ID removes it everywhere.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OCI_MANIFEST, http, pushBlob, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { ok, runCli } from './cli-harness';

jest.setTimeout(180_000);

let sut: StevedoreUnderTest;
let dir: string;
let env: Record<string, string>;
const cli = (args: string[], input?: string) => runCli(args, { env, input });

const configOf = (nonce: number) =>
  Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { split: String(nonce) } },
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
const hexOf = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function pushWithConfig(name: string, tag: string, config: Buffer): Promise<void> {
  const digest = await pushBlob(sut.url, name, config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: config.length },
    layers: [],
  });
  expect((await http(sut.url, 'PUT', `/v2/${name}/manifests/${tag}`, manifest, { 'content-type': OCI_MANIFEST })).status).toBe(201);
}

beforeAll(async () => {
  sut = await startStevedore({ wiring: 'split' });
  dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-image-id-split-'));
  env = { STEVEDORE_HOST: sut.url, STEVEDORE_CONFIG: path.join(dir, 'config.json') };
  ok(await cli(['login', '-u', sut.admin.user, '--password-stdin'], sut.admin.password + '\n'));
});

afterAll(async () => {
  await sut?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('an ID names the image in every repository through the metadata service', async () => {
  const config = configOf(0);
  const id = `sha256:${hexOf(config)}`;
  const short = id.slice(7, 19);
  await pushWithConfig('split/a', '1', config);
  ok(await cli(['tag', short, 'split/b:1']));
  ok(await cli(['tag', short, 'split/b:2']));
  const [img] = JSON.parse(ok(await cli(['inspect', short])).stdout);
  expect(img.Id).toBe(id);
  expect(img.RepoTags).toEqual(['split/a:1', 'split/b:1', 'split/b:2']);

  // An image whose ID shares the first 4 digits makes that prefix ambiguous.
  let nonce = 1;
  while (hexOf(configOf(nonce)).slice(0, 4) !== id.slice(7, 11)) nonce++;
  await pushWithConfig('split/c', '1', configOf(nonce));
  const amb = await cli(['inspect', id.slice(7, 11)]);
  expect({ code: amb.code, stderr: amb.stderr }).toEqual({ code: 1, stderr: `Error: short ID ${id.slice(7, 11)} is ambiguous\n` });

  const rmi = await cli(['rmi', short]);
  expect(rmi.stderr).toBe(`Error: conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories\n`);
  expect(ok(await cli(['rmi', '-f', short])).stdout).toBe(
    `Untagged: split/a:1\nUntagged: split/b:1\nUntagged: split/b:2\nDeleted: ${id}\n`,
  );
  expect((await cli(['inspect', short])).stderr).toBe(`Error: No such image: ${short}\n`);
});
