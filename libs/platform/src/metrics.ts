// Prometheus metrics of a Stevedore process (prom-client). One registry per process; services
// record through the typed helpers below so names and labels are defined once.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ClusterMetricsClient } from './cluster-metrics';

export class StevedoreMetrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'stevedore_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'stevedore_http_request_duration_seconds',
    help: 'HTTP request latency by route and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [this.registry],
  });
  readonly bytesPushed = new Counter({
    name: 'stevedore_bytes_pushed_total',
    help: 'Blob bytes received from clients',
    registers: [this.registry],
  });
  readonly bytesPulled = new Counter({
    name: 'stevedore_bytes_pulled_total',
    help: 'Blob bytes sent to clients',
    registers: [this.registry],
  });
  readonly uploadsInFlight = new Gauge({
    name: 'stevedore_upload_sessions_in_flight',
    help: 'Blob upload requests being received now',
    registers: [this.registry],
  });
  readonly storageOps = new Counter({
    name: 'stevedore_storage_operations_total',
    help: 'Storage driver calls by operation and outcome',
    labelNames: ['driver', 'operation', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly storageDuration = new Histogram({
    name: 'stevedore_storage_operation_duration_seconds',
    help: 'Storage driver call latency by operation',
    labelNames: ['driver', 'operation'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly jobs = new Counter({
    name: 'stevedore_jobs_total',
    help: 'Jobs finished by queue and outcome',
    labelNames: ['queue', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly jobDuration = new Histogram({
    name: 'stevedore_job_duration_seconds',
    help: 'Job run time by queue',
    labelNames: ['queue'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'stevedore_queue_jobs',
    help: 'Jobs in a queue by state (sampled at scrape)',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
    // Every process of a group samples the same queue: one value, not the sum (cluster-metrics.ts).
    aggregator: 'max',
  });
  readonly gcRuns = new Counter({
    name: 'stevedore_gc_runs_total',
    help: 'Garbage collection runs',
    labelNames: ['mode'] as const,
    registers: [this.registry],
  });
  readonly gcBytesFreed = new Counter({
    name: 'stevedore_gc_bytes_freed_total',
    help: 'Bytes freed by garbage collection',
    registers: [this.registry],
  });
  readonly dependencyRtt = new Gauge({
    name: 'stevedore_dependency_round_trip_seconds',
    help: 'Round trip to Redis and storage, sampled at scrape',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
    aggregator: 'average',
  });
  readonly commits = new Counter({
    name: 'stevedore_commits_total',
    help: 'Images committed from containers',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly readRepairs = new Counter({
    name: 'stevedore_read_repairs_total',
    help: 'Index entries Redis had lost, found in storage by a read and written back (tag, revision, record, link)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly consistencyRepairs = new Counter({
    name: 'stevedore_consistency_repairs_total',
    help: 'Index entries the consistency pass repaired towards storage, by kind (tag, revision, link, manifest, blob, catalog, imageid) and action (add, remove, correct)',
    labelNames: ['kind', 'action'] as const,
    registers: [this.registry],
  });
  readonly consistencyLastRun = new Gauge({
    name: 'stevedore_consistency_last_run_timestamp_seconds',
    help: 'When the last consistency pass of this process finished (Unix seconds)',
    registers: [this.registry],
    // One process of a group runs the pass: the newest, not the sum.
    aggregator: 'max',
  });
  readonly consistencyDuration = new Histogram({
    name: 'stevedore_consistency_run_duration_seconds',
    help: 'Consistency pass run time',
    buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });
  readonly consistencyFound = new Gauge({
    name: 'stevedore_consistency_last_run_differences',
    help: 'Differences between the Redis indexes and storage the last consistency pass found (repaired or not)',
    registers: [this.registry],
    aggregator: 'max',
  });

  /** Called before each scrape (queue depths, round trips). */
  private readonly collectors: Array<() => Promise<void>> = [];

  /** Set in a worker of a process group: scrapes are answered with the group's merged metrics. */
  private readonly group: ClusterMetricsClient | undefined;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry, prefix: 'stevedore_process_' });
    this.group = ClusterMetricsClient.forThisProcess(async () => {
      await this.collect();
      return this.registry.getMetricsAsJSON();
    });
  }

  private async collect(): Promise<void> {
    await Promise.all(this.collectors.map((c) => c().catch(() => undefined)));
  }

  onScrape(fn: () => Promise<void>): void {
    this.collectors.push(fn);
  }

  async render(): Promise<string> {
    if (this.group) return this.group.render();
    await this.collect();
    return this.registry.metrics();
  }
}
