// Commit latency, measured (a benchmark, not a test: npx jest -c libs/commits/bench/jest.config.cjs): a read-write layer of 1,000
// small files (10 MB) and of one 200 MB file, against `tar | gzip -1 | sha256sum` of the same bytes.
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, policyFile, startStevedore, type StevedoreUnderTest } from '@stevedore/testing';
import { Api, baseLayout, expectStatus, pushLayout, tarOf } from '../test/helpers';

jest.setTimeout(600_000);
describe('commit latency', () => {
  let sut: StevedoreUnderTest;
  let api: Api;
  let dir: string;
  beforeAll(async () => {
    sut = await startStevedore({
      wiring: 'all',
      // At info the worker logs each commit's own time and phases, which the figures print.
      extraEnv: { STEVEDORE_COMMIT_CONCURRENCY: '1', LOG_LEVEL: 'info' },
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

  // CPU time as well as wall time: on two cores shared with other work, wall time mostly says how
  // loaded the machine was; the CPU each side spent is what the commit path itself costs.
  const tickMs = 1000 / Number(execSync('getconf CLK_TCK').toString().trim());
  /** User + system CPU of the platform process (all its threads, libuv's pool included). */
  function platformCpuMs(): number {
    const f = readFileSync(`/proc/${sut.pid()}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * tickMs;
  }

  function cli(root: string): { ms: number; cpuMs: number } {
    const t = process.hrtime.bigint();
    // `times` prints the shell's, then its children's user and system time (tar, gzip, sha256sum).
    const out = execSync(
      `bash -c 'set -o pipefail; tar -C ${root} --sort=name --mtime=@0 --owner=0 --group=0 -cf - . | gzip -1 -n | sha256sum >/dev/null; times'`,
      { stdio: 'pipe' },
    ).toString();
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    const [user, sys] = [
      ...out
        .trim()
        .split('\n')[1]
        .matchAll(/(\d+)m([\d.]+)s/g),
    ].map((m) => Number(m[1]) * 60_000 + Number(m[2]) * 1000);
    return { ms, cpuMs: user + sys };
  }

  // Waits on the job's event stream (it ends with `completed`) rather than polling its status: each
  // poll with Basic credentials costs the server a bcrypt on the event loop the commit runs on, and
  // a 100 ms poll adds up to 100 ms to what is measured.
  async function commitMs(id: string, ref: string): Promise<{ ms: number; cpuMs: number }> {
    const cpu = platformCpuMs();
    const t = Date.now();
    const job = await api.commit({ container: id, reference: ref });
    const events = (await http(sut.url, 'GET', `/api/v1/jobs/${job.id}/events`)).body.toString();
    const ms = Date.now() - t;
    expect(events).toContain('event: completed');
    return { ms, cpuMs: platformCpuMs() - cpu };
  }

  /** The worker's own time for the commit to `ref`, from its log line (job start to tag). */
  function workerMs(ref: string): string {
    const m = new RegExp(`-> ${ref}@sha256:[a-f0-9]+ in (\\d+) ms \\[([^\\]]*)\\]`).exec(sut.logs());
    return m ? `worker ${m[1]} ms [${m[2]}]` : 'worker time not logged';
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
      ['1,000 files / 10 MB', await commitMs(small, 'bench:small'), cli(root), workerMs('bench:small')],
      ['1 file / 200 MB', await commitMs(big, 'bench:big'), cli(join(dir, 'big')), workerMs('bench:big')],
    ] as const;
    for (const [what, commit, baseline, worker] of rows) {
      console.log(
        `${what}: commit ${commit.ms.toFixed(0)} ms (submit to tagged; ${worker}), tar|gzip -1|sha256sum ${baseline.ms.toFixed(0)} ms, ratio ${(commit.ms / baseline.ms).toFixed(2)}; ` +
          `CPU: platform process ${commit.cpuMs.toFixed(0)} ms (its Redis not counted), CLI ${baseline.cpuMs.toFixed(0)} ms, ratio ${(commit.cpuMs / baseline.cpuMs).toFixed(2)}`,
      );
    }
  });
});
