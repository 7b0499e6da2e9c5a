// What the pages say about a read or an action, in the roles screen readers announce: a read still
// loading (status) or failed (alert), an action's outcome (status when it went well, alert when not),
// and an error (alert).
import type { ReactNode } from 'react';
import { ApiError } from './api';
import type { Loaded } from './use-load';

/** An action's outcome, as a page keeps it until the next. */
export type Outcome = { ok: boolean; text: string };

/** The server's words for a failure, or the page's own when there are none (a network error). */
export const messageOf = (e: unknown, fallback: string) => (e instanceof ApiError ? e.message : fallback);

/** The server answers alike for what is not there and what the caller may not see. */
export const isAbsentOrHidden = (e: unknown) => e instanceof ApiError && [401, 403, 404].includes(e.status);

/** While a read is loading, and what to say when it failed; nothing once it is done. */
export function LoadState({ loaded, failed }: { loaded: Loaded<unknown>; failed: (error: Error) => ReactNode }) {
  if (loaded.state === 'loading') return <p role="status">Loading…</p>;
  if (loaded.state === 'failed')
    return (
      <p role="alert" className="error">
        {failed(loaded.error)}
      </p>
    );
  return null;
}

/** An action's outcome, if there is one; `children` follow its text. */
export function OutcomeText({ outcome, children }: { outcome: Outcome | undefined; children?: ReactNode }) {
  if (!outcome) return null;
  return (
    <p role={outcome.ok ? 'status' : 'alert'} className={outcome.ok ? 'notice' : 'error'}>
      {outcome.text}
      {children}
    </p>
  );
}

/** An error, if there is one. */
export function ErrorText({ error }: { error: ReactNode }) {
  if (!error) return null;
  return (
    <p role="alert" className="error">
      {error}
    </p>
  );
}
