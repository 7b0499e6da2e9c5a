// Waiting for a server-side job (export, import, commit, batch, replication) with a progress bar:
// the job's server-sent events when the server has them, else polling its status.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobProgress, JobStatus } from './api-client';
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

/** Progress as `done/total` for a bar: bytes when the job counts bytes, else percent. */
export function progressNumbers(p: JobStatus['progress']): { done: number; total?: number; phase?: string; bytes: boolean } {
  if (typeof p === 'number') return { done: p, total: 100, bytes: false };
  if (!p) return { done: 0, bytes: false };
  const q = p as JobProgress;
  // Replication reports {bytes: {done, total}, ...}.
  const nested = q.bytes as unknown as { done?: number; total?: number } | undefined;
  if (nested && typeof nested === 'object' && typeof nested.total === 'number' && nested.total > 0) {
    return { done: Number(nested.done ?? 0), total: nested.total, phase: q.phase, bytes: true };
  }
  if (typeof q.totalBytes === 'number' && q.totalBytes > 0)
    return { done: Number(q.bytes ?? 0), total: q.totalBytes, phase: q.phase, bytes: true };
  if (typeof q.percent === 'number') return { done: q.percent, total: 100, phase: q.phase, bytes: false };
  if (typeof q.totalFiles === 'number' && q.totalFiles > 0)
    return { done: Number(q.files ?? 0), total: q.totalFiles, phase: q.phase, bytes: false };
  return { done: Number(q.bytes ?? 0), phase: q.phase, bytes: typeof q.bytes === 'number' };
}

export function jobError(s: JobStatus, what: string): CliError {
  if (s.error?.message) return new CliError(`${what} failed: ${s.error.message}`, s.error.code);
  return new CliError(`${what} failed (${s.state})`, 'JOB_FAILED');
}

export interface WaitOptions {
  status: () => Promise<JobStatus>;
  /** Server-sent events of the job; undefined or a 404 means poll. */
  events?: () => Promise<RawResponse>;
  progress?: Progress;
  what: string;
  intervalMs?: number;
}

/** Resolves with the final status when it is `completed`; throws the job's error otherwise. */
export async function waitForJob(o: WaitOptions): Promise<JobStatus> {
  const show = (s: JobStatus) => {
    const n = progressNumbers(s.progress);
    o.progress?.update(n.done, n.total, n.phase ?? s.state);
  };
  let final: JobStatus | undefined;
  if (o.events) final = await followEvents(o.events, show).catch(() => undefined);
  const interval = o.intervalMs ?? 250;
  while (!final) {
    const s = await o.status();
    show(s);
    if (DONE_STATES.has(s.state)) final = s;
    else await sleep(interval);
  }
  // The event stream may end on the terminal event without the result; the status has it.
  if (!('result' in final) && final.state === 'completed') final = await o.status();
  o.progress?.stop();
  if (final.state !== 'completed') throw jobError(final, o.what);
  return final;
}

async function followEvents(open: () => Promise<RawResponse>, show: (s: JobStatus) => void): Promise<JobStatus | undefined> {
  const res = await open();
  const parser = new SseParser();
  res.body.setEncoding('utf8');
  for await (const chunk of res.body) {
    for (const ev of parser.feed(chunk as string)) {
      let data: any;
      try {
        data = JSON.parse(ev.data);
      } catch {
        continue;
      }
      const status: JobStatus =
        data && typeof data === 'object' && 'state' in data
          ? data
          : { id: '', state: ev.event === 'progress' ? 'active' : ev.event, progress: data?.progress ?? data };
      if (ev.event === 'failed' && !status.error && data?.code) status.error = data;
      show(status);
      if (DONE_STATES.has(status.state) || DONE_STATES.has(ev.event)) {
        res.body.destroy();
        return { ...status, state: DONE_STATES.has(status.state) ? status.state : ev.event };
      }
    }
  }
  return undefined;
}
