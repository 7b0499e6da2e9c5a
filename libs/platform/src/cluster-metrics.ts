// /metrics when a target runs as several processes (libs/server cluster.ts): a scrape lands on one
// worker, which asks the primary; the primary asks every worker for its metrics (each runs its
// scrape-time collectors first) and merges them with prom-client's AggregatorRegistry: counters and
// histograms sum, and gauges that describe shared state (queue depths, round trips) take one value
// (their `aggregator` is set where they are declared), so a scrape sees the whole process group.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

type MetricsJson = Array<MetricObjectWithValues<MetricValue<string>>>;
type Message =
  | { stevedore: 'metrics-request'; id: number }
  | { stevedore: 'metrics-collect'; id: number }
  | { stevedore: 'metrics-part'; id: number; metrics: MetricsJson }
  | { stevedore: 'metrics-answer'; id: number; text?: string; error?: string };

const isMessage = (m: unknown): m is Message =>
  typeof m === 'object' && m !== null && typeof (m as { stevedore?: unknown }).stevedore === 'string';

/** How long a merge waits for the workers; one that does not answer in time is left out of that scrape. */
const COLLECT_TIMEOUT_MS = 3000;

/** The primary's side: answer every worker's metrics-request with the merge of all workers' parts. */
export function serveClusterMetrics(): void {
  let next = 1;
  const pending = new Map<number, { asker: Worker; askerId: number; parts: MetricsJson[]; expected: number; timer: NodeJS.Timeout }>();
  const finish = (id: number) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    clearTimeout(p.timer);
    const reply = (m: Message) => p.asker.isConnected() && p.asker.send(m);
    let merged;
    try {
      merged = AggregatorRegistry.aggregate(p.parts);
    } catch (e) {
      reply({ stevedore: 'metrics-answer', id: p.askerId, error: (e as Error).message });
      return;
    }
    merged.metrics().then(
      (text) => reply({ stevedore: 'metrics-answer', id: p.askerId, text }),
      (e: Error) => reply({ stevedore: 'metrics-answer', id: p.askerId, error: e.message }),
    );
  };
  cluster.on('message', (worker, m: unknown) => {
    if (!isMessage(m)) return;
    if (m.stevedore === 'metrics-request') {
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w?.isConnected());
      const id = next++;
      pending.set(id, {
        asker: worker,
        askerId: m.id,
        parts: [],
        expected: workers.length,
        timer: setTimeout(() => finish(id), COLLECT_TIMEOUT_MS),
      });
      for (const w of workers) w.send({ stevedore: 'metrics-collect', id } satisfies Message);
    } else if (m.stevedore === 'metrics-part') {
      const p = pending.get(m.id);
      if (!p) return;
      p.parts.push(m.metrics);
      if (p.parts.length >= p.expected) finish(m.id);
    }
  });
}

/**
 * A worker's side: give the primary this process's metrics when it collects, and return the
 * group's merged text for a scrape. Undefined outside a cluster worker (the caller renders its own).
 */
export class ClusterMetricsClient {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void }>();

  constructor(collect: () => Promise<MetricsJson>) {
    process.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      if (m.stevedore === 'metrics-collect') {
        collect().then(
          (metrics) => process.send?.({ stevedore: 'metrics-part', id: m.id, metrics } satisfies Message),
          () => process.send?.({ stevedore: 'metrics-part', id: m.id, metrics: [] } satisfies Message),
        );
      } else if (m.stevedore === 'metrics-answer') {
        const w = this.waiting.get(m.id);
        if (!w) return;
        this.waiting.delete(m.id);
        if (m.text !== undefined) w.resolve(m.text);
        else w.reject(new Error(m.error ?? 'no metrics from the primary'));
      }
    });
  }

  static forThisProcess(collect: () => Promise<MetricsJson>): ClusterMetricsClient | undefined {
    return cluster.isWorker && process.send ? new ClusterMetricsClient(collect) : undefined;
  }

  render(): Promise<string> {
    const id = this.next++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error('the primary did not answer for metrics'));
      }, COLLECT_TIMEOUT_MS + 1000);
      this.waiting.set(id, {
        resolve: (t) => (clearTimeout(timer), resolve(t)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      process.send?.({ stevedore: 'metrics-request', id } satisfies Message);
    });
  }
}
