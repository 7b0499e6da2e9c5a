// The scale-out rig under faults (issue 24): HAProxy in front of 2 gateways, 2 blob-services, 2
// metadata-services and 2 commit-workers, Redis Sentinel (a primary, a replica, three sentinels), the
// shared Ceph RGW as storage (STEVEDORE_RIG_STORAGE=filesystem for a quick local run). Under a mixed
// load (skopeo pushes and pulls, undici pushes and pulls of small images, tag moves, a batch of
// commits, a GC run) one replica of each service in turn is killed with SIGKILL and restarted, then
// the Redis primary is killed so the sentinels promote the replica. Asserted:
// - 0 failed pulls of acknowledged tags. The only retry allowed is the documented 503 + Retry-After,
//   and only within the Redis failover window; a pull in flight on a killed gateway is resent to the
//   other by HAProxy (retry-on empty-response, option redispatch: deploy/local/haproxy.ts). Writes
//   may also meet that 503 when a replica they needed was just killed, and are retried after it.
// - 0 lost tags: every tag a client had acknowledged resolves to its digest at the end, and pulls whole.
// - Every commit of the batch finishes exactly once (one completed job each, its tag on its digest,
//   no stray tags), and with the digest it would have had: each job's own data (entries, created,
//   parent) is queued again under another tag once the faults are over, and must give the same digest.
// - GC deletes nothing referenced (every tag above pulls whole after it) and does collect garbage
//   planted for it (an orphan blob, an untagged manifest), so the check is not vacuous.
// Fast by default (a few minutes on two cores); STEVEDORE_RIG_LONG=1 kills every replica of every
// service twice, commits 50 containers and runs the load longer.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { Queue } from 'bullmq';
import { buildLayout, policyFile } from '@stevedore/testing';
import { QueueNames, RedisKeys, connectRedis, createQueue, isRedisCluster, loadConfig } from '@stevedore/platform';
import { DigestGuard } from '@stevedore/blobs';
import { commitJobId, commitJobOptions, type CommitJobData, type CommitResult, type BatchResult } from '@stevedore/commits';
import { Failed, RigClient } from '../local/client';
import type { RedisMode } from '../local/redis';
import { startRig, type Rig, type Service } from '../local/rig';

const run = promisify(execFile);
const LONG = /^(1|true|yes)$/.test(process.env.STEVEDORE_RIG_LONG ?? '');
const STORAGE = process.env.STEVEDORE_RIG_STORAGE === 'filesystem' ? 'filesystem' : 's3';
/** cluster (default: 3 masters + 3 replicas, as issue 24 asks), or sentinel (the production overlay's shape); single cannot fail over. */
const REDIS = (process.env.STEVEDORE_RIG_REDIS ?? 'cluster') as RedisMode;
const COMMITS = LONG ? 50 : 8;
/** After a kill: this long with one replica left, under load, before the restart. */
const DOWN_MS = LONG ? 5000 : 3000;
/** After the failover completes, clients may still meet a 503 while they reconnect: the window's tail. */
const FAILOVER_TAIL_MS = 15_000;
const GC_AGE_SECONDS = 20;
const COMMIT_BYTES = 4 * 2 ** 20;
jest.setTimeout(LONG ? 30 * 60_000 : 12 * 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (m: string) => process.stderr.write(`scale-out ${new Date().toISOString().slice(11, 19)} ${m}\n`);

interface Stats {
  pulls: number;
  pushes: number;
  pushRetries: number;
  pushRetryReasons: string[];
  tagMoves: number;
  skopeoPushes: number;
  skopeoPulls: number;
  skopeoPullRetries: number;
  failedPulls: string[];
  failedPushes: string[];
}

describe('scale-out rig under faults: HAProxy, 2 of each service, Redis Cluster (or Sentinel)', () => {
  let rig: Rig | undefined;
  let client: RigClient;
  let dir: string;
  /** The load loops, stopped by the test or, when it fails half-way, by afterAll. */
  let load: Promise<unknown> | undefined;
  let stopping = false;
  /** BullMQ's view of queue `commit` (job states, attempts, the replays). */
  let commitQueue: Queue | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rig-e2e-'));
    rig = await startRig({ redis: REDIS, storage: STORAGE, keep: process.env.STEVEDORE_RIG_KEEP === '1' });
    client = new RigClient(rig.url, rig.admin);
    log(`rig up at ${rig.url} (${rig.dir}), ${rig.redis.url}, storage ${STORAGE}, ${LONG ? 'long' : 'fast'} mode`);
  });

  afterAll(async () => {
    stopping = true;
    await load;
    await commitQueue?.close();
    await client?.close();
    await rig?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loses no pull, tag or commit while replicas are killed and Redis fails over; GC keeps everything referenced', async () => {
    const r = rig!;
    const host = r.url.replace('http://', '');
    const creds = `${r.admin.user}:${r.admin.password}`;
    const policy = policyFile(dir);
    const skopeo = (...args: string[]) => run('skopeo', ['--policy', policy, ...args], { timeout: 120_000 });

    // ---- Set-up, before any fault ---------------------------------------------------------------
    const base = buildLayout(path.join(dir, 'base'), 'v1', [{ 'bin/sh': 'placeholder', 'etc/os-release': 'rig' }]);
    await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${base.dir}:v1`, `docker://${host}/rig/base:1`);
    /** Every tag a client saw acknowledged, and the digest it must resolve to at the end. */
    const acked = new Map<string, string>();
    acked.set('rig/base:1', base.manifestDigest);
    const stable: string[] = ['rig/base:1'];
    /** Tags of real images (skopeo pulls these: the undici pushes' layers are random bytes, not tar+gzip). */
    const real: string[] = ['rig/base:1'];
    for (let i = 0; i < 6; i++) {
      const { digest } = await client.pushImage('rig/seed', `s${i}`, randomBytes(2048));
      acked.set(`rig/seed:s${i}`, digest);
      stable.push(`rig/seed:s${i}`);
    }
    // Two images a tag moves between; each also keeps a tag of its own, so neither is garbage.
    const imgA = await client.pushImage('rig/moving', 'a', randomBytes(1024));
    const imgB = await client.pushImage('rig/moving', 'b', randomBytes(1024));
    acked.set('rig/moving:a', imgA.digest).set('rig/moving:b', imgB.digest);
    expect(await client.putManifest('rig/moving', 'm', imgA.manifest)).toBe(imgA.digest);
    let moving = imgA.digest;
    // Garbage for the GC: a blob nothing references and a manifest no tag names.
    const orphan = await client.pushBlob('rig/garbage', randomBytes(4096));
    const untagged = await client.pushImage('rig/garbage', 'tmp', randomBytes(1024));
    await client.pushImage('rig/garbage', 'tmp', randomBytes(1024)); // moves tmp: the first manifest is untagged now
    const garbageAt = Date.now();
    // Containers to commit: each from the base image, with files of its own.
    const containers: string[] = [];
    for (let i = 0; i < COMMITS; i++) {
      const c = await client.json<{ id: string }>('POST', '/api/v1/containers', { image: 'rig/base:1' });
      expect(c.status).toBe(201);
      for (const [p, body] of [
        ['/id', `container ${i}\n`],
        // Incompressible, so a commit takes long enough for its worker to be killed under it.
        ['/blob', randomBytes(COMMIT_BYTES)],
      ] as const) {
        const w = await client.call('PUT', `/api/v1/containers/${c.json.id}/files?path=${p}`, body, {
          'content-type': 'application/octet-stream',
        });
        expect({ status: w.status, body: w.status === 201 ? '' : w.body.toString() }).toEqual({ status: 201, body: '' });
      }
      containers.push(c.json.id);
    }
    log(`set-up done: ${acked.size} tags, ${containers.length} containers`);

    // ---- Load ------------------------------------------------------------------------------------
    const stats: Stats = {
      pulls: 0,
      pushes: 0,
      pushRetries: 0,
      pushRetryReasons: [],
      tagMoves: 0,
      skopeoPushes: 0,
      skopeoPulls: 0,
      skopeoPullRetries: 0,
      failedPulls: [],
      failedPushes: [],
    };
    const failover = { start: Infinity, end: Infinity };
    const inFailoverWindow = (t: number) => t >= failover.start && t <= failover.end + FAILOVER_TAIL_MS;
    const pick = () => stable[Math.floor(Math.random() * stable.length)];

    /** A write is retried (it was not acknowledged) on any 5xx or lost answer; the count is reported. */
    async function retried<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
      for (let attempt = 1; attempt <= 8; attempt++) {
        try {
          return await fn();
        } catch (e) {
          if (!(e instanceof Failed) || !/: (5\d\d|no answer)/.test(e.message) || attempt === 8) {
            stats.failedPushes.push(`${new Date().toISOString()} ${what}: ${(e as Error).message}`);
            return undefined;
          }
          stats.pushRetries++;
          stats.pushRetryReasons.push(`${new Date().toISOString()} ${(e as Error).message.slice(0, 200)}`);
          await sleep(500);
        }
      }
      return undefined;
    }

    const puller = async () => {
      while (!stopping) {
        const ref = pick();
        const [repo, tag] = ref.split(':');
        try {
          await client.pull(repo, tag, acked.get(ref));
          stats.pulls++;
        } catch (e) {
          stats.failedPulls.push(`${new Date().toISOString()} ${(e as Error).message}`);
        }
        await sleep(30);
      }
    };
    const pusher = async () => {
      for (let n = 0; !stopping; n++) {
        const tag = `p${n}`;
        const pushed = await retried(`push rig/pushed:${tag}`, () => client.pushImage('rig/pushed', tag, randomBytes(4096)));
        if (pushed) {
          stats.pushes++;
          acked.set(`rig/pushed:${tag}`, pushed.digest);
          stable.push(`rig/pushed:${tag}`);
        }
        await sleep(100);
      }
    };
    const mover = async () => {
      while (!stopping) {
        const next = moving === imgA.digest ? imgB : imgA;
        const d = await retried('move rig/moving:m', () => client.putManifest('rig/moving', 'm', next.manifest));
        if (d) {
          moving = d;
          stats.tagMoves++;
        }
        await sleep(200);
      }
    };
    const skopeoLoop = async () => {
      for (let n = 0; !stopping; n++) {
        const ref = `rig/skopeo:k${n}`;
        try {
          await skopeo(
            'copy',
            '--retry-times',
            '3',
            '--dest-tls-verify=false',
            '--dest-creds',
            creds,
            `oci:${base.dir}:v1`,
            `docker://${host}/${ref}`,
          );
          stats.skopeoPushes++;
          acked.set(ref, base.manifestDigest);
          stable.push(ref);
          real.push(ref);
        } catch (e) {
          stats.failedPushes.push(
            `${new Date().toISOString()} skopeo push ${ref}: ${(e as Error).message.split('\n').slice(1).join(' ').slice(0, 600)}`,
          );
        }
        // And a skopeo pull of an acknowledged tag into a fresh layout, its digest checked.
        const from = real[Math.floor(Math.random() * real.length)];
        const out = path.join(dir, `pull-${n}`);
        for (let attempt = 1; ; attempt++) {
          try {
            await skopeo('copy', '--src-tls-verify=false', '--src-creds', creds, `docker://${host}/${from}`, `oci:${out}:x`);
            const index = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
            if (index.manifests[0]?.digest !== acked.get(from))
              throw new Error(`pulled ${index.manifests[0]?.digest}, expected ${acked.get(from)}`);
            stats.skopeoPulls++;
            break;
          } catch (e) {
            const msg = (e as Error).message;
            // skopeo says "503 Service Unavailable" on the documented answer: retried only in the failover window.
            if (/503|Service Unavailable/i.test(msg) && inFailoverWindow(Date.now()) && attempt < 20) {
              stats.skopeoPullRetries++;
              client.retries.push({ at: Date.now(), method: 'skopeo', path: from, status: 503, retryAfter: '1', from: 'platform' });
              await sleep(1000);
              continue;
            }
            stats.failedPulls.push(`${new Date().toISOString()} skopeo pull ${from}: ${msg.slice(0, 300)}`);
            break;
          } finally {
            rmSync(out, { recursive: true, force: true });
          }
        }
        await sleep(300);
      }
    };
    load = Promise.all([puller(), puller(), pusher(), mover(), skopeoLoop()]);

    // ---- Faults ----------------------------------------------------------------------------------
    await sleep(3000);
    const batch = await client.json<{ id: string; children: Array<{ id: string; reference: string }> }>('POST', '/api/v1/commits:batch', {
      commits: containers.map((c, i) => ({ container: c, reference: `rig/committed:c${i}`, author: 'rig', message: `commit ${i}` })),
    });
    expect(batch.status).toBe(202);
    expect(batch.json.children.every((c) => c.id)).toBe(true);
    log(`batch ${batch.json.id} of ${batch.json.children.length} commits submitted`);

    // The commit-worker first, while the batch runs; then the tiers it and everything else call.
    const order: Service[] = ['commit-worker', 'gateway', 'blob-service', 'metadata-service'];
    const victims = LONG ? [1, 2, 1, 2].flatMap((i) => order.map((s) => `${s}-${i}`)) : order.map((s) => `${s}-1`);
    const kills: Array<{ name: string; restartMs: number }> = [];
    const queue = (commitQueue = createQueue(loadConfig({ ...r.env }), QueueNames.commit));
    for (const name of victims) {
      if (name.startsWith('commit-worker')) {
        // Under a running commit, when there is one still.
        for (let i = 0; i < 100 && (await queue.getActiveCount()) === 0 && (await queue.getWaitingCount()) > 0; i++) await sleep(50);
      } else await sleep(1000);
      r.kill(name);
      log(`kill -9 ${name}`);
      await sleep(DOWN_MS);
      const t0 = Date.now();
      await r.restart(name);
      kills.push({ name, restartMs: Date.now() - t0 });
      log(`${name} ready again after ${Date.now() - t0} ms`);
      await sleep(1500);
    }
    failover.start = Date.now();
    const fo = await r.redis.failover();
    failover.end = Date.now();
    log(
      `Redis (${r.redis.mode}) failed over in ${fo.ms} ms: ${fo.killedPort ?? 'a master'} killed, ${fo.promotedPort ?? 'its replica'} promoted`,
    );

    // GC under load, right after the failover.
    while (Date.now() - garbageAt < (GC_AGE_SECONDS + 2) * 1000) await sleep(500);
    type GcRun = { state: string; result?: { manifests: { digests: Array<{ digest: string }> }; blobs: { digests: string[] } } };
    /** What GC's scripts read of a blob (DigestGuard's keys), its record and its repository link, as Redis has them now. */
    const gcStateOf = async (digest: string) => {
      const redis = await connectRedis(r.env.REDIS_URL, { commandTimeoutMs: 3000 });
      try {
        const keys = new RedisKeys(r.env.STEVEDORE_REDIS_PREFIX ?? 'stevedore', isRedisCluster(r.env.REDIS_URL));
        const guard = new DigestGuard(redis, keys);
        const [touched, writing, writingTtl, sweeping] = await Promise.all([
          redis.get(guard.touchedKey(digest)),
          redis.get(guard.writingKey(digest)),
          redis.ttl(guard.writingKey(digest)),
          redis.get(guard.sweepingKey(digest)),
        ]);
        const [record, linked, now] = await Promise.all([
          redis.hgetall(keys.key('blob', keys.tag(digest))),
          redis.sismember(keys.repo('rig/garbage', 'layers'), digest),
          guard.now(),
        ]);
        return { now, touched, writing, writingTtl, sweeping, record, linked };
      } finally {
        redis.disconnect();
      }
    };
    const runGc = async (): Promise<GcRun> => {
      const gc = await client.json<{ id: string }>('POST', '/api/v1/gc', {
        graceSeconds: GC_AGE_SECONDS,
        untaggedMaxAgeSeconds: GC_AGE_SECONDS,
      });
      expect(gc.status).toBe(202);
      let run: GcRun = { state: 'waiting' };
      for (let i = 0; i < 600 && !['completed', 'failed'].includes(run.state); i++) {
        await sleep(500);
        run = (await client.json<GcRun>('GET', `/api/v1/gc/runs/${gc.json.id}`)).json;
      }
      return run;
    };
    const gcRun = await runGc();
    log(`GC ${gcRun.state}`);
    await sleep(LONG ? 20_000 : 4000);
    stopping = true;
    await load;

    // ---- The batch: every commit once, on its digest -----------------------------------------------
    let batchJob: { state: string; result?: BatchResult } = { state: 'waiting' };
    for (let i = 0; i < 600 && !['completed', 'failed'].includes(batchJob.state); i++) {
      batchJob = (await client.json<typeof batchJob>('GET', `/api/v1/jobs/${batch.json.id}`)).json;
      if (batchJob.state !== 'completed') await sleep(500);
    }
    const commits: Array<{ id: string; tag: string; digest: string; attempts: number; stalled: number; data: CommitJobData }> = [];
    for (const child of batch.json.children) {
      const job = await queue.getJob(child.id);
      expect({ id: child.id, state: await job?.getState() }).toEqual({ id: child.id, state: 'completed' });
      const result = job!.returnvalue as CommitResult;
      commits.push({
        id: child.id,
        tag: result.tag,
        digest: result.digest,
        attempts: job!.attemptsStarted,
        stalled: job!.stalledCounter,
        data: job!.data as CommitJobData,
      });
    }
    expect(batchJob.state).toBe('completed');
    expect(batchJob.result).toMatchObject({ total: COMMITS, succeeded: COMMITS, failed: 0 });
    for (const c of commits) acked.set(`rig/committed:${c.tag}`, c.digest);
    // No commit ran into a second tag: the repository holds exactly the batch's tags.
    const tags = await client.json<{ tags: string[] }>('GET', '/v2/rig/committed/tags/list?n=1000');
    expect(tags.json.tags.sort()).toEqual(commits.map((c) => c.tag).sort());

    // The same jobs again, now unfaulted, under other tags: the same image digests.
    const replays = [];
    for (const c of commits) {
      const data: CommitJobData = { ...c.data, target: { ...c.data.target, tag: `${c.data.target.tag}-replay` } };
      delete data.holder;
      delete data.requestId;
      const id = commitJobId(data);
      // As the platform queues a commit (its attempts and backoff): a transient error is retried as in production.
      await queue.add('commit', data, commitJobOptions(id));
      replays.push({ id, original: c });
    }
    for (const rp of replays) {
      let view: { state: string; result?: CommitResult; error?: unknown } = { state: 'waiting' };
      for (let i = 0; i < 600 && !['completed', 'failed'].includes(view.state); i++) {
        view = (await client.json<typeof view>('GET', `/api/v1/jobs/${rp.id}`)).json;
        if (view.state !== 'completed') await sleep(250);
      }
      if (view.state !== 'completed') {
        // What the workers said about it: a failed replay is otherwise hard to explain after the rig is gone.
        for (const name of ['commit-worker-1', 'commit-worker-2'])
          for (const line of readFileSync(r.log(name), 'utf8').split('\n')) if (line.includes(rp.id)) log(`${name}: ${line}`);
      }
      // The state and error ride along so a failure says why, not only that the digest is missing.
      expect({ tag: rp.original.tag, state: view.state, error: view.error, digest: view.result?.digest }).toEqual({
        tag: rp.original.tag,
        state: 'completed',
        error: undefined,
        digest: rp.original.digest,
      });
    }

    // ---- Every acknowledged tag, whole, after the GC ------------------------------------------------
    acked.set('rig/moving:m', moving);
    const lost: string[] = [];
    for (const [ref, digest] of acked) {
      const [repo, tag] = ref.split(':');
      await client.pull(repo, tag, digest).catch((e: Error) => lost.push(e.message));
    }
    // The GC did collect what was garbage. A failover during GC's listing may make it miss keys of the
    // master that moved (scanPage: "a missed key is seen next run"), and a blob whose gc:touched stamp
    // the failover lost counts as never stamped: the run stamps it now and keeps it, as it keeps
    // anything touched within the grace. So a second run, once the grace has passed since the first,
    // must take what the first one missed. (Seen in CI twice: the orphan kept by both runs. Its keys
    // were on the promoted master, which the GC process's scans left out until scanPage asked the
    // cluster for its masters first; libs/platform redis.ts currentMasters.)
    const collected = (run: GcRun) => ({
      orphan: !!run.result?.blobs.digests.includes(orphan),
      untagged: !!run.result?.manifests.digests.some((d) => d.digest === untagged.digest),
    });
    const firstRun = collected(gcRun);
    let secondRun: ReturnType<typeof collected> | undefined;
    if (!firstRun.orphan || !firstRun.untagged) {
      log(`GC right after the failover missed ${JSON.stringify(firstRun)}; a second run after the grace`);
      const firstEnded = Date.now();
      while (Date.now() - firstEnded < (GC_AGE_SECONDS + 2) * 1000) await sleep(500);
      const again = await runGc();
      expect(again.state).toBe('completed');
      secondRun = collected(again);
      // Should a run keep the orphan again, what GC decides by is logged, so the failure says why.
      if (!secondRun.orphan)
        log(`orphan ${orphan} kept again: ${JSON.stringify({ ...(await gcStateOf(orphan)), first: gcRun.result, second: again.result })}`);
    }
    const orphanHead = await client.call('HEAD', `/v2/rig/garbage/blobs/${orphan}`);
    const untaggedGet = await client.call('GET', `/v2/rig/garbage/manifests/${untagged.digest}`, undefined, {
      accept: 'application/vnd.oci.image.manifest.v1+json',
    });

    const retries = client.retries;
    // Pulls may meet the 503 only while Redis fails over; a write may meet it whenever a replica it
    // needed was just killed (an internal service unreachable), and is retried after Retry-After.
    const pullRetries = retries.filter((x) => ['GET', 'HEAD', 'skopeo'].includes(x.method));
    const outsideWindow = pullRetries.filter((x) => !inFailoverWindow(x.at));
    const summary = {
      mode: LONG ? 'long' : 'fast',
      storage: STORAGE,
      ...stats,
      failedPulls: stats.failedPulls.length,
      failedPushes: stats.failedPushes.length,
      retries503: retries.length,
      retries503Pulls: pullRetries.length,
      retries503FromLoadBalancer: retries.filter((x) => x.from === 'load balancer').length,
      retries503PullsOutsideFailover: outsideWindow.length,
      kills,
      redisFailoverMs: fo.ms,
      commits: commits.length,
      /** Runs started per commit (more than one: its worker was killed under it, or Redis failed over). */
      commitRunsStarted: commits.map((c) => c.attempts),
      commitsStalled: commits.filter((c) => c.stalled > 0).length,
      tagsChecked: acked.size,
      gc: {
        state: gcRun.state,
        secondRun: secondRun ?? null,
        manifestsDeleted: gcRun.result?.manifests.digests.length,
        blobsDeleted: gcRun.result?.blobs.digests.length,
      },
      errorLines: r.errorLines(),
    };
    log(`summary ${JSON.stringify(summary, null, 1)}`);
    if (stats.failedPushes.length) log(`unacknowledged writes (not asserted; retried up to 8 times):\n${stats.failedPushes.join('\n')}`);

    expect(stats.failedPulls).toEqual([]);
    expect(outsideWindow).toEqual([]);
    expect(lost).toEqual([]);
    expect(stats.pulls).toBeGreaterThan(20);
    expect(stats.pushes).toBeGreaterThan(5);
    expect(stats.skopeoPulls).toBeGreaterThan(0);
    expect(gcRun.state).toBe('completed');
    expect({ orphan: firstRun.orphan || secondRun?.orphan, untagged: firstRun.untagged || secondRun?.untagged }).toEqual({
      orphan: true,
      untagged: true,
    });
    expect(orphanHead.status).toBe(404);
    expect(untaggedGet.status).toBe(404);
  });
});
