// Printing: tables as Docker aligns them, sizes in Docker's decimal units, relative times, and
// progress (cli-progress bars on a terminal; a few plain lines otherwise).
import { SingleBar } from 'cli-progress';

export function humanSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return 'N/A';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v < 10 ? v.toFixed(2).replace(/\.?0+$/, '') : v.toFixed(1).replace(/\.0$/, '')}${units[i]}`;
}

export function timeAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'N/A';
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || t <= 0 || iso.startsWith('0001-')) return 'N/A';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return s <= 1 ? 'Less than a second ago' : `${s} seconds ago`;
  const m = Math.round(s / 60);
  if (m < 60) return m === 1 ? 'About a minute ago' : `${m} minutes ago`;
  const h = Math.round(m / 60);
  if (h < 48) return h === 1 ? 'About an hour ago' : `${h} hours ago`;
  const d = Math.round(h / 24);
  if (d < 14) return `${d} days ago`;
  if (d < 60) return `${Math.round(d / 7)} weeks ago`;
  if (d < 730) return `${Math.round(d / 30)} months ago`;
  return `${Math.round(d / 365)} years ago`;
}

/** Docker's short image ID: 12 hex characters of the config digest. */
export function shortId(id: string | undefined): string {
  if (!id) return '<none>';
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i])))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export interface Progress {
  /** `done` of `total` units (bytes when `bytes`); `phase` names the step. */
  update(done: number, total?: number, phase?: string): void;
  stop(): void;
}

export interface ProgressOptions {
  quiet?: boolean;
  bytes?: boolean;
  stream?: NodeJS.WriteStream;
  /** Force bars (true) or plain lines (false); default: bars when stdout and stderr are terminals. */
  tty?: boolean;
}

export function createProgress(label: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return { update: () => undefined, stop: () => undefined };
  const tty = opts.tty ?? (!!process.stdout.isTTY && !!stream.isTTY);
  const fmt = (n: number) => (opts.bytes ? humanSize(n) : String(n));
  const phaseOf = (phase: string | undefined) => (phase && phase.toLowerCase() !== label.toLowerCase() ? phase : '');
  if (tty) {
    const bar = new SingleBar({
      stream,
      format: `${label} [{bar}] {percentage}% | {phase} {doneH}/{totalH}`,
      barCompleteChar: '=',
      barIncompleteChar: ' ',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 20,
    });
    let started = false;
    let last = { done: 0, total: 0 };
    return {
      update(done, total, phase) {
        const t = total && total > 0 ? total : Math.max(done, 1);
        last = { done, total: t };
        const payload = { phase: phaseOf(phase), doneH: fmt(done), totalH: total ? fmt(total) : '?' };
        if (!started) {
          bar.start(t, done, payload);
          started = true;
        } else {
          bar.setTotal(t);
          bar.update(done, payload);
        }
      },
      stop() {
        if (started) {
          bar.update(last.total, {});
          bar.stop();
        }
      },
    };
  }
  // Plain lines: one when a phase starts and at every quarter, so logs stay short.
  let lastPhase: string | undefined;
  let lastQuarter = -1;
  let lastDone = 0;
  let lastTotal: number | undefined;
  const write = (done: number, total: number | undefined, phase: string | undefined) => {
    const pct = total ? ` ${Math.floor((done / total) * 100)}%` : '';
    stream.write(`${label}${phaseOf(phase) ? ` ${phase}` : ''}:${pct} ${fmt(done)}${total ? `/${fmt(total)}` : ''}\n`);
  };
  return {
    update(done, total, phase) {
      lastDone = done;
      lastTotal = total;
      const quarter = total ? Math.floor((done / total) * 4) : 0;
      if (phase !== lastPhase || quarter > lastQuarter) {
        write(done, total, phase);
        lastPhase = phase;
        lastQuarter = phase !== lastPhase ? -1 : quarter;
        lastQuarter = quarter;
      }
    },
    stop() {
      if (lastTotal && lastQuarter < 4 && lastDone > 0) write(lastTotal, lastTotal, 'done');
    },
  };
}
