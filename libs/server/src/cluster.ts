// One target on every core: a primary process forks STEVEDORE_PROCESSES workers that each run the
// whole target and share its listening socket. Every
// piece of state a request needs lives in Redis and storage (upload sessions, tags, jobs, leases),
// so any worker can serve any request of an upload; what a worker keeps in memory is a cache of
// immutable things (manifests and small blobs by digest, verified tokens until they expire), as
// several split gateways already do. Queue workers (commits, loads, GC) run in every process.
//
// The primary serves nothing itself. It starts the first worker alone (it claims the instance and
// creates the bootstrap admin and the token key under the data dir, which the others then find),
// then the rest; restarts a worker that dies (at most one a second); merges the workers' metrics
// for /metrics (libs/platform cluster-metrics.ts); forwards SIGTERM/SIGINT and exits once the
// workers have, each bounded by its own shutdown timeout, with a backstop here.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { serveClusterMetrics, type StevedoreConfig, type Target } from '@stevedore/platform';

/** How many processes a target runs: STEVEDORE_PROCESSES, else one per core for `all` and one for a split target. */
export function processCount(config: Pick<StevedoreConfig, 'STEVEDORE_TARGET' | 'STEVEDORE_PROCESSES'>): number {
  return config.STEVEDORE_PROCESSES ?? (config.STEVEDORE_TARGET === 'all' ? availableParallelism() : 1);
}

const LISTENING = 'stevedore:listening';
/** Seconds past the workers' own shutdown timeout before the primary kills what is left. */
const BACKSTOP_SECONDS = 15;

/** The primary of a process group: never serves requests itself. */
export function runPrimary(target: Target, processes: number, shutdownSeconds: number): void {
  const log = (msg: string) => process.stderr.write(`stevedore ${target} (primary ${process.pid}): ${msg}\n`);
  const live = () => Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
  /** Whether any worker has started serving (before that, a worker's exit means the start-up fails). */
  let serving = false;
  /** Ids of the workers that serve. */
  const listening = new Set<number>();
  let stopping = false;
  let nextStart = 0;
  serveClusterMetrics();
  // Each worker accepts from the shared socket itself (not the primary's round-robin hand-off): a
  // connection the primary hands to a worker that has just been killed hangs until the client gives
  // up (seen here: the first request after a SIGKILL), while a dead worker simply stops accepting.
  cluster.schedulingPolicy = cluster.SCHED_NONE;

  cluster.on('exit', (w, code, signal) => {
    if (stopping) {
      if (live().length === 0) process.exit(0);
      return;
    }
    if (!serving) {
      // The first worker could not start (its own message says why): the next would fail the same way.
      log(`the first worker exited (${signal ?? `code ${code}`}) before serving`);
      process.exit(typeof code === 'number' && code !== 0 ? code : 1);
    }
    const at = Math.max(Date.now(), nextStart);
    nextStart = at + 1000;
    log(`worker ${w.process.pid} exited (${signal ?? `code ${code}`}); starting another`);
    setTimeout(() => stopping || cluster.fork(), at - Date.now());
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: exiting now`);
      for (const w of live()) w.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    log(`${signal}: stopping ${live().length} workers`);
    for (const w of live()) w.process.kill(signal);
    setTimeout(
      () => {
        log('workers still running after the shutdown timeout: killing them');
        for (const w of live()) w.process.kill('SIGKILL');
        process.exit(1);
      },
      (shutdownSeconds + BACKSTOP_SECONDS) * 1000,
    ).unref();
    if (live().length === 0) process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  // Workers say when they serve; the first one's word starts the rest.
  cluster.on('message', (w, m: unknown) => {
    if (m !== LISTENING || listening.has(w.id)) return;
    listening.add(w.id);
    if (!serving) {
      serving = true;
      for (let i = 1; i < processes && !stopping; i++) cluster.fork();
    }
    const now = live().filter((x) => listening.has(x.id)).length;
    log(now === processes ? `all ${processes} workers serving` : `worker ${w.process.pid} serving (${now} of ${processes})`);
  });
  cluster.fork();
}

/** In a worker of a group: tell the primary this one serves (the first one's signal starts the rest). */
export function announceListening(): void {
  if (cluster.isWorker) process.send?.(LISTENING);
}

export const isPrimaryOfGroup = (processes: number) => processes > 1 && cluster.isPrimary;
