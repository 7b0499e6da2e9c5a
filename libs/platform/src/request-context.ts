// The request id that follows a request from the gateway through the services it calls and into the
// jobs it starts: carried in AsyncLocalStorage within a process, in `x-request-id` between
// processes and in job data across queues.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';
const storage = new AsyncLocalStorage<{ requestId: string }>();

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

export function runWithRequestId<T>(requestId: string | undefined, fn: () => T): T {
  return storage.run({ requestId: requestId ?? randomUUID() }, fn);
}

/** A client-supplied id is kept only when it is short and plain, so logs cannot be forged through it. */
export function acceptRequestId(value: unknown): string {
  return typeof value === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : randomUUID();
}
