// bench/report.ts: medians and ratios of a bench/run.sh results folder.
//
// Usage: node -r @swc-node/register bench/report.ts RESULTS_DIR
//   RESULTS_DIR holds run<I>/<registry>.<suite>.out ("name value unit" lines; registry stevedore or
//   distribution; suite skopeo, light or mixed) and config.json (what run.sh was asked).
// Writes RESULTS_DIR/summary.json (every run's value, the medians, ratio and target per metric) and
// RESULTS_DIR/ratios.svg (a bar per throughput metric); prints the table of medians on stdout.
// ratio is always stevedore / distribution: above 1 is better for throughput, below 1 for latency (ms).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { format } from 'prettier';
import { ratioChart } from './chart';
import { median } from './client';

const REGISTRIES = ['stevedore', 'distribution'] as const;
type RegistryName = (typeof REGISTRIES)[number];

/** The targets (stevedore / distribution), by suite and metric. */
const TARGETS: Record<string, number> = {
  'skopeo.push_mbps': 1.2,
  'skopeo.pull_mbps': 1.0,
  'skopeo.small_push_per_s': 1.4,
  'skopeo.manifest_get_rps': 5,
  'skopeo.blob_get_rps': 5,
  'skopeo.blob_head_rps': 5,
  'light.blob_put_mono_mbps': 2,
  'light.blob_put_chunked_mbps': 2,
  'light.blob_get_c4_mbps': 1.2,
  'light.small_push_per_s': 2,
};
const HIGHER_IS_BETTER = new Set(['MB/s', 'req/s', 'push/s', 'op/s']);
/** Figures that describe the run, not the registry (sizes, durations, flags). */
const NOT_A_METRIC = new Set(['s', 'MB', 'bool']);

export interface MetricSummary {
  id: string;
  suite: string;
  name: string;
  unit: string;
  /** 'higher' or 'lower' is better; 'count' is an error count (summed over runs, not a ratio). */
  kind: 'higher' | 'lower' | 'count';
  runs: Record<RegistryName, number[]>;
  median: Record<RegistryName, number>;
  ratio: number | null;
  target: number | null;
  met: boolean | null;
}

function parse(file: string): Array<{ name: string; value: number; unit: string }> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(/\s+/))
    .filter((f) => f.length >= 3 && Number.isFinite(Number(f[1])))
    .map((f) => ({ name: f[0], value: Number(f[1]), unit: f.slice(2).join(' ') }));
}

export function summarise(dir: string): MetricSummary[] {
  const runs = readdirSync(dir)
    .filter((d) => /^run\d+$/.test(d))
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  const byId = new Map<string, MetricSummary>();
  for (const run of runs) {
    for (const file of readdirSync(path.join(dir, run)).sort()) {
      const m = /^(stevedore|distribution)\.(\w+)\.out$/.exec(file);
      if (!m) continue;
      const [, reg, suite] = m as unknown as [string, RegistryName, string];
      for (const { name, value, unit } of parse(path.join(dir, run, file))) {
        if (NOT_A_METRIC.has(unit)) continue;
        const id = `${suite}.${name}`;
        let s = byId.get(id);
        if (!s) {
          const kind = unit === 'count' ? 'count' : HIGHER_IS_BETTER.has(unit) ? 'higher' : 'lower';
          s = {
            id,
            suite,
            name,
            unit,
            kind,
            runs: { stevedore: [], distribution: [] },
            median: { stevedore: 0, distribution: 0 },
            ratio: null,
            target: null,
            met: null,
          };
          byId.set(id, s);
        }
        s.runs[reg].push(value);
      }
    }
  }
  for (const s of byId.values()) {
    for (const reg of REGISTRIES) s.median[reg] = s.kind === 'count' ? s.runs[reg].reduce((a, b) => a + b, 0) : median(s.runs[reg]);
    s.ratio =
      s.kind !== 'count' && s.median.distribution > 0 && s.runs.stevedore.length ? s.median.stevedore / s.median.distribution : null;
    s.target = TARGETS[s.id] ?? null;
    s.met = s.target !== null && s.ratio !== null ? s.ratio >= s.target : null;
  }
  // Suites in the order run.sh runs them; metrics within a suite in the order the tool printed them.
  const order = (suite: string) => ['skopeo', 'light', 'mixed'].indexOf(suite);
  return [...byId.values()].sort((a, b) => order(a.suite) - order(b.suite));
}

function table(metrics: MetricSummary[], runs: number): string {
  const rows = [['# metric', `stevedore`, `distribution`, 'ratio', 'target']];
  for (const s of metrics) {
    const fmt = (v: number) => (s.kind === 'count' ? String(v) : v.toFixed(2));
    rows.push([
      `${s.id} (${s.unit})`,
      s.runs.stevedore.length ? fmt(s.median.stevedore) : '-',
      s.runs.distribution.length ? fmt(s.median.distribution) : '-',
      s.ratio === null ? '' : `${s.ratio.toFixed(2)}x`,
      s.target === null ? '' : `>=${s.target}x ${s.met ? 'met' : 'NOT met'}`,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd(),
  );
  return [`# medians of ${runs} run(s); errors are summed over the runs; ratio = stevedore / distribution`, ...lines].join('\n') + '\n';
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir || !existsSync(dir)) {
    process.stderr.write('usage: node -r @swc-node/register bench/report.ts RESULTS_DIR\n');
    process.exit(2);
  }
  const configFile = path.join(dir, 'config.json');
  const config = existsSync(configFile) ? (JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>) : {};
  const metrics = summarise(dir);
  const runs = readdirSync(dir).filter((d) => /^run\d+$/.test(d)).length;
  // In Prettier's JSON style, so `prettier --check` over the (gitignored) results folder stays quiet.
  const summary = await format(JSON.stringify({ config, runs, metrics }), { parser: 'json' });
  writeFileSync(path.join(dir, 'summary.json'), summary);
  const bars = metrics
    .filter((s) => s.kind === 'higher' && s.ratio !== null)
    .map((s) => ({ label: s.id, ratio: s.ratio!, target: s.target ?? undefined }));
  const subtitle = `medians of ${runs} interleaved run(s); auth ${config.auth ?? '?'}, wiring ${config.wiring ?? '?'}, ${config.started ?? ''}`;
  writeFileSync(path.join(dir, 'ratios.svg'), ratioChart('Stevedore / distribution (higher is better)', subtitle, bars));
  process.stdout.write(table(metrics, runs));
}

main().catch((e: Error) => {
  process.stderr.write(`report: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
