// Waiting for a server-side job (export, import, commit, batch, replication) with a progress bar:
// the job's server-sent events when the server has them, else polling its status.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RawResponse } from './http-client';
import { CliError } from './errors';
import type { Progress } from './output';

export const DONE_STATES = new Set(['completed', 'failed', 'cancelled', 'canceled']);

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** Incremental text/event-stream parser: feed chunks, get the complete events. */
export class SseParser {
  private buffer = '';
  feed(chunk: string): SseEvent[] {
    this.buffer += chunk.replace(/\r\n?/g, '\n');
    const out: SseEvent[] = [];
    let i: number;
    while ((i = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 2);
      const ev: SseEvent = { event: 'message', data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (!line || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') ev.event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') ev.id = value;
      }
      if (!data.length && ev.event === 'message') continue;
      ev.data = data.join('\n');
      out.push(ev);
    }
    return out;
  }
}

/** What waiting reads of any job status (commit, batch, export, import, replication). */
export interface JobLike {
  state: string;
  progress?: unknown;
  error?: { code: string; message: string };
  result?: unknown;
}

const fields = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Progress as `done/total` for a bar: bytes when the job counts bytes, else percent or files. Each
 * kind reports its own shape (libs/api-contract: ExportProgress, CommitProgress, ReplicateProgress).
 */
export function progressNumbers(p: unknown): { done: number; total?: number; phase?: string; bytes: boolean } {
  if (typeof p === 'number') return { done: p, total: 100, bytes: false };
  const q = fields(p);
  if (!q) return { done: 0, bytes: false };
  const phase = typeof q['phase'] === 'string' ? q['phase'] : undefined;
  // Replication reports {bytes: {done, total}, ...}.
  const nested = fields(q['bytes']);
  const nestedTotal = count(nested?.['total']);
  if (nested && nestedTotal) return { done: count(nested['done']) ?? 0, total: nestedTotal, phase, bytes: true };
  const totalBytes = count(q['totalBytes']);
  if (totalBytes) return { done: count(q['bytes']) ?? 0, total: totalBytes, phase, bytes: true };
  const percent = count(q['percent']);
  if (percent !== undefined) return { done: percent, total: 100, phase, bytes: false };
  const totalFiles = count(q['totalFiles']);
  if (totalFiles) return { done: count(q['files']) ?? 0, total: totalFiles, phase, bytes: false };
  return { done: count(q['bytes']) ?? 0, phase, bytes: count(q['bytes']) !== undefined };
}

export function jobError(s: JobLike, what: string): CliError {
  if (s.error?.message) return new CliError(`${what} failed: ${s.error.message}`, s.error.code);
  return new CliError(`${what} failed (${s.state})`, 'JOB_FAILED');
}

export interface WaitOptions<S extends JobLike> {
  /** The job's status, parsed through the API contract. */
  status: () => Promise<S>;
  /** Server-sent events of the job (progress as it happens); undefined or a failure means poll. */
  events?: () => Promise<RawResponse>;
  progress?: Progress;
  what: string;
  intervalMs?: number;
}

/** Resolves with the final status when it is `completed`; throws the job's error otherwise. */
export async function waitForJob<S extends JobLike>(o: WaitOptions<S>): Promise<S> {
  const show = (progress: unknown, state: string) => {
    const n = progressNumbers(progress);
    o.progress?.update(n.done, n.total, n.phase ?? state);
  };
  // The events only move the bar and tell when the job ended; the final status is always read
  // from the status route, so what the caller gets has been checked against the contract.
  if (o.events) await followEvents(o.events, show).catch(() => false);
  const interval = o.intervalMs ?? 250;
  let final: S | undefined;
  while (!final) {
    const s = await o.status();
    show(s.progress, s.state);
    if (DONE_STATES.has(s.state)) final = s;
    else await sleep(interval);
  }
  o.progress?.stop();
  if (final.state !== 'completed') throw jobError(final, o.what);
  return final;
}

/** Follows the stream until the job's terminal event; true when it came. */
async function followEvents(open: () => Promise<RawResponse>, show: (progress: unknown, state: string) => void): Promise<boolean> {
  const res = await open();
  const parser = new SseParser();
  res.body.setEncoding('utf8');
  for await (const chunk of res.body) {
    for (const ev of parser.feed(String(chunk))) {
      let data: unknown;
      try {
        data = JSON.parse(ev.data);
      } catch {
        continue;
      }
      // `progress` events carry the progress itself; the others a whole job status.
      const status = ev.event === 'progress' ? undefined : fields(data);
      const state = typeof status?.['state'] === 'string' ? status['state'] : ev.event === 'progress' ? 'active' : ev.event;
      show(status ? status['progress'] : data, state);
      if (DONE_STATES.has(state) || DONE_STATES.has(ev.event)) {
        res.body.destroy();
        return true;
      }
    }
  }
  return false;
}
