// One error type for the CLI: what failed, the API's code when there is one, and a hint of what to do.
// Every failure ends as a single `Error: <message> (<code>)` line on stderr and a non-zero exit.

export interface ApiErrorBody {
  code: string;
  message: string;
  detail?: unknown;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    /** What the user can do about it, printed after the message. */
    readonly hint?: string,
    readonly exitCode = 1,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'CliError';
  }

  static fromBody(body: ApiErrorBody, status?: number): CliError {
    return new CliError(body.message || `request failed with status ${status}`, body.code, hintFor(body.code), 1, status);
  }
}

function hintFor(code: string | undefined): string | undefined {
  switch (code) {
    case 'UNAUTHORIZED':
      return 'run `stevedore login` first';
    case 'DENIED':
      return 'your account may not do this';
    default:
      return undefined;
  }
}

/** Reads the OCI envelope `{"errors":[{code,message,detail}]}`; anything else is described by its status. */
export function errorFromResponse(status: number, text: string): CliError {
  try {
    const parsed = JSON.parse(text) as { errors?: ApiErrorBody[]; message?: string; error?: string };
    const first = parsed.errors?.[0];
    if (first && typeof first.message === 'string') return CliError.fromBody(first, status);
    // Nest's own 404 for a route that does not exist, or a proxy's answer.
    if (typeof parsed.message === 'string') return new CliError(parsed.message, statusCode(status), undefined, 1, status);
  } catch {
    // not JSON
  }
  const snippet = text.trim().split('\n')[0]?.slice(0, 200);
  return new CliError(
    snippet ? `server answered ${status}: ${snippet}` : `server answered ${status}`,
    statusCode(status),
    undefined,
    1,
    status,
  );
}

function statusCode(status: number): string {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status >= 500) return 'UNAVAILABLE';
  return `HTTP_${status}`;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** The one line printed for a failure. Never includes credentials: messages come from our code or the server. */
export function formatError(e: unknown): string {
  if (e instanceof CliError) {
    return `Error: ${e.message}${e.code ? ` (${e.code})` : ''}${e.hint ? `; ${e.hint}` : ''}`;
  }
  const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = err?.code ?? err?.cause?.code;
  if (code && NETWORK_CODES.has(code)) {
    return `Error: cannot reach the Stevedore server: ${err.cause?.message ?? err.message} (${code}); check --host or STEVEDORE_HOST`;
  }
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR') {
    return `Error: ${err.message} (${code})`;
  }
  return `Error: ${err?.message ?? String(e)}${code ? ` (${code})` : ''}`;
}

/**
 * Runs `fn` for each argument of a many-argument verb (`rm a b c`), as docker does: one argument's
 * failure is its own error; with several, each failure is printed as it comes and the verb exits
 * non-zero at the end with how many failed.
 */
export async function eachArg<T>(out: { note(line: string): void }, args: string[], fn: (a: string) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let failed = 0;
  for (const a of args) {
    try {
      results.push(await fn(a));
    } catch (e) {
      failed++;
      if (args.length === 1) throw e;
      out.note(formatError(e));
    }
  }
  if (failed) throw new CliError(`${failed} of ${args.length} failed`);
  return results;
}
