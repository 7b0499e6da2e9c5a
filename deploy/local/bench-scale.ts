// How the rig scales: the shared bench harness (bench/light.ts and bench/mixed.ts) run through
// HAProxy against the rig with 1 gateway + 1 blob-service, then 2 + 2 (or the --configs given), on
// filesystem storage, and a table of each metric per configuration and its ratio to the first. On
// two cores the point is that nothing serialises (a second replica must not make things slower),
// not the absolute figures; `<suite>_machine_busy_pct` (the whole machine's CPU use while the suite
// ran) tells a configuration that waits on something from one that pays for more processes on full
// cores. A benchmark, not a test: nothing here asserts a figure.
//
// Usage: deploy/local/bench-scale.sh [--configs 1x1,2x2] [--suite light|mixed|all] [--redis single|sentinel]
//          [--light-mb N] [--light-runs N] [--light-small N] [--get-concurrency N]
//          [--mixed-sizes 1,10] [--mixed-concurrency 1,8] [--mixed-duration S]
//   --configs GxB,...  G gateways and B blob-services per configuration (one metadata-service and one
//                      commit-worker each: they are not on the byte path)
// A brief proof run: --light-mb 8 --light-runs 1 --light-small 5 --mixed-sizes 1 --mixed-concurrency 4 --mixed-duration 3
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REDIS_MODES, type RedisMode } from './redis';
import { ROOT, startRig } from './rig';

interface Options {
  configs: Array<{ gateways: number; blobs: number }>;
  suites: Array<'light' | 'mixed'>;
  redis: RedisMode;
  light: string[];
  mixed: string[];
}

function usage(why: string): never {
  process.stderr.write(`bench-scale: ${why} (see the comment at the top of deploy/local/bench-scale.ts)\n`);
  process.exit(2);
}

function parse(argv: string[]): Options {
  const o: Options = {
    configs: [
      { gateways: 1, blobs: 1 },
      { gateways: 2, blobs: 2 },
    ],
    suites: ['light', 'mixed'],
    redis: 'single',
    light: [],
    mixed: [],
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, v] = [argv[i], argv[i + 1]];
    if (v === undefined) usage(`${flag} needs a value`);
    switch (flag) {
      case '--configs':
        o.configs = v.split(',').map((c) => {
          const m = /^([1-9])x([1-9])$/.exec(c);
          if (!m) usage(`--configs: "${c}" is not GxB`);
          return { gateways: Number(m[1]), blobs: Number(m[2]) };
        });
        break;
      case '--suite':
        if (v === 'all') o.suites = ['light', 'mixed'];
        else if (v === 'light' || v === 'mixed') o.suites = [v];
        else usage(`--suite ${v}`);
        break;
      case '--redis':
        if (!REDIS_MODES.includes(v as RedisMode)) usage(`--redis ${v}`);
        o.redis = v as RedisMode;
        break;
      case '--light-mb':
        o.light.push('--blob-mb', v);
        break;
      case '--light-runs':
        o.light.push('--runs', v);
        break;
      case '--light-small':
        o.light.push('--small', v);
        break;
      case '--get-concurrency':
        o.light.push('--get-concurrency', v);
        break;
      case '--mixed-sizes':
        o.mixed.push('--sizes', v);
        break;
      case '--mixed-concurrency':
        o.mixed.push('--concurrency', v);
        break;
      case '--mixed-duration':
        o.mixed.push('--duration', v);
        break;
      default:
        usage(`unknown flag ${flag}`);
    }
  }
  return o;
}

/**
 * Run one harness script; its stdout's "name value unit" lines are the figures. What the previous
 * configuration (or suite) left dirty in the page cache is written back first, as bench/run.sh does:
 * a completing upload's fsync waits for the journal commit and that for other files' dirty data, so
 * a configuration must not pay for the writes of the one before it.
 */
function bench(script: string, args: string[]): Promise<Map<string, { value: number; unit: string }>> {
  spawnSync('sync');
  const before = machineCpu();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', path.join(ROOT, 'bench', script), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code) => {
      const figures = new Map<string, { value: number; unit: string }>();
      for (const line of out.split('\n')) {
        const m = /^(\S+) (-?[\d.]+) ?(.*)$/.exec(line.trim());
        if (m) figures.set(m[1], { value: Number(m[2]), unit: m[3] });
      }
      // How busy the whole machine was while the suite ran (client, HAProxy and every replica): a
      // configuration that answers slower with the cores not full is waiting on something (a lock, a
      // single process, a queue), one that answers slower with them full is paying for processes.
      if (code !== 0 && figures.size === 0) return reject(new Error(`${script} exited with ${code}`));
      const after = machineCpu();
      const busy = after.busy - before.busy;
      const suite = path.basename(script, '.ts');
      figures.set(`${suite}_machine_busy_pct`, { value: Math.round((1000 * busy) / (busy + after.idle - before.idle)) / 10, unit: '%' });
      resolve(figures);
    });
  });
}

/** The machine's CPU time so far, in clock ticks, from /proc/stat's first line: busy and idle (iowait counts as idle). */
function machineCpu(): { busy: number; idle: number } {
  const [, user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .map(Number);
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait };
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const results: Array<{ label: string; figures: Map<string, { value: number; unit: string }> }> = [];
  for (const c of o.configs) {
    const label = `${c.gateways} gw + ${c.blobs} blob`;
    process.stderr.write(`bench-scale: starting the rig with ${label}\n`);
    const rig = await startRig({
      redis: o.redis,
      storage: 'filesystem',
      replicas: { gateway: c.gateways, 'blob-service': c.blobs, 'metadata-service': 1, 'commit-worker': 1 },
      extraEnv: { LOG_LEVEL: 'error' },
    });
    const figures = new Map<string, { value: number; unit: string }>();
    try {
      const creds = ['--user', rig.admin.user, '--password', rig.admin.password];
      if (o.suites.includes('light')) for (const [k, v] of await bench('light.ts', [rig.url, ...creds, ...o.light])) figures.set(k, v);
      if (o.suites.includes('mixed')) for (const [k, v] of await bench('mixed.ts', [rig.url, ...creds, ...o.mixed])) figures.set(k, v);
    } finally {
      await rig.stop();
    }
    results.push({ label, figures });
  }

  const names = [...new Set(results.flatMap((r) => [...r.figures.keys()]))];
  const first = results[0];
  const header = ['metric', ...results.map((r) => r.label), ...results.slice(1).map((r) => `${r.label} / ${first.label}`)];
  const rows = names.map((n) => {
    const unit = results.find((r) => r.figures.has(n))?.figures.get(n)?.unit ?? '';
    const cells = results.map((r) => (r.figures.has(n) ? `${r.figures.get(n)!.value}` : '-'));
    const base = first.figures.get(n)?.value;
    const ratios = results.slice(1).map((r) => {
      const v = r.figures.get(n)?.value;
      return base && v !== undefined ? `${(v / base).toFixed(2)}x` : '-';
    });
    return [`${n}${unit ? ` (${unit})` : ''}`, ...cells, ...ratios];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(fmt(header));
  for (const r of rows) console.log(fmt(r));
  console.log('(throughputs: higher is better; latencies (_ms) and errors: lower is better; machine_busy_pct: the');
  console.log(" machine's CPU use while the suite ran, client and HAProxy included)");
}

main().catch((e) => {
  process.stderr.write(`bench-scale: ${(e as Error).message}\n`);
  process.exit(1);
});
