// Commit latency, measured (a benchmark, not a test: npx jest -c libs/commits/bench/jest.config.cjs): a read-write layer of 1,000
// small files (10 MB) and of one 200 MB file, against `tar | gzip -1 | sha256sum` of the same bytes.
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { policyFile, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { Api, baseLayout, expectStatus, pushLayout, tarOf } from '../test/helpers';

jest.setTimeout(600_000);
describe('commit latency', () => {
  let sut: StevedoreUnderTest;
  let api: Api;
  let dir: string;
  beforeAll(async () => {
    sut = await startStevedore({
      wiring: 'all',
      extraEnv: { STEVEDORE_COMMIT_CONCURRENCY: '1', ...(process.env.SHOW_LOGS ? { LOG_LEVEL: 'info' } : {}) },
    });
    api = new Api(sut);
    dir = await mkdtemp(join(tmpdir(), 'commit-bench-'));
    baseLayout(join(dir, 'layout'));
    await pushLayout(sut, policyFile(dir), join(dir, 'layout'), 'base', 'library/busybox');
  });
  afterAll(async () => {
    if (process.env.SHOW_LOGS) console.log(sut?.logs());
    await sut?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function cli(root: string): number {
    const t = process.hrtime.bigint();
    execSync(`tar -C ${root} --sort=name --mtime=@0 --owner=0 --group=0 -cf - . | gzip -1 -n | sha256sum`, { stdio: 'pipe' });
    return Number(process.hrtime.bigint() - t) / 1e6;
  }

  async function commitMs(id: string, ref: string): Promise<number> {
    const t = Date.now();
    const job = await api.commit({ container: id, reference: ref });
    const done = await api.wait(job.id, 600_000);
    expect(done.state).toBe('completed');
    return Date.now() - t;
  }

  it('1,000 files of 10 KB and one file of 200 MB', async () => {
    const files = Array.from({ length: 1000 }, (_, i) => ({ name: `data/f${String(i).padStart(4, '0')}`, body: randomBytes(10 * 1024) }));
    const root = join(dir, 'small');
    mkdirSync(join(root, 'data'), { recursive: true });
    for (const f of files) writeFileSync(join(root, f.name), f.body);
    const small = await api.create('library/busybox:base');
    const upper = await tarOf([
      { name: 'data/', type: 'directory' },
      // Cast: the helper's body type says string; it writes a Buffer the same way.
      ...files.map((f) => ({ name: f.name, body: f.body as unknown as string })),
    ]);
    expectStatus(await api.raw('PUT', `/api/v1/containers/${small}/archive`, upper, 'application/x-tar'), 200);

    const big = await api.create('library/busybox:base');
    const blob = randomBytes(200 * 1024 * 1024);
    mkdirSync(join(dir, 'big'));
    writeFileSync(join(dir, 'big', 'blob'), blob);
    await api.write(big, '/blob', blob);

    const rows = [
      ['1,000 files / 10 MB', await commitMs(small, 'bench:small'), cli(root)],
      ['1 file / 200 MB', await commitMs(big, 'bench:big'), cli(join(dir, 'big'))],
    ] as const;
    for (const [what, commit, baseline] of rows) {
      console.log(
        `${what}: commit ${commit.toFixed(0)} ms (submit to tagged), tar|gzip -1|sha256sum ${baseline.toFixed(0)} ms, ratio ${(commit / baseline).toFixed(2)}`,
      );
    }
  });
});
