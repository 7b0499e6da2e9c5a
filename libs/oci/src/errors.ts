// The OCI distribution error codes, registered once (as distribution's errcode does): code, HTTP
// status and default message. Services throw RegistryError; one exception filter renders the envelope.

export const ErrorCodes = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 404, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  RANGE_INVALID: { status: 416, message: 'requested range not satisfiable' },
  // Not in the distribution spec; used by the management API and jobs, same envelope.
  NOT_FOUND: { status: 404, message: 'not found' },
  CONFLICT: { status: 409, message: 'conflict' },
  INVALID_REQUEST: { status: 400, message: 'invalid request' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'request body too large' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  INTERNAL: { status: 500, message: 'internal error' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  detail?: unknown;
}

/** A typed registry error. `detail` is free-form, as the spec allows; never put secrets in it. */
export class RegistryError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly detail?: unknown,
    status?: number,
  ) {
    super(message ?? ErrorCodes[code].message);
    this.name = 'RegistryError';
    this.status = status ?? ErrorCodes[code].status;
  }

  toJSON(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message };
    if (this.detail !== undefined) body.detail = this.detail;
    return body;
  }

  /** The spec's envelope: {"errors":[{code,message,detail}]}. */
  envelope(): { errors: ErrorBody[] } {
    return { errors: [this.toJSON()] };
  }

  static is(e: unknown, code?: ErrorCode): e is RegistryError {
    return e instanceof RegistryError && (code === undefined || e.code === code);
  }

  /** Rebuild from an envelope received over HTTP (split services), keeping the status. */
  static fromEnvelope(status: number, body: unknown): RegistryError {
    const first = (body as { errors?: ErrorBody[] } | undefined)?.errors?.[0];
    if (first && typeof first.code === 'string' && first.code in ErrorCodes) {
      return new RegistryError(first.code as ErrorCode, first.message, first.detail, status);
    }
    return new RegistryError(status >= 500 ? 'INTERNAL' : 'INVALID_REQUEST', `unexpected status ${status}`, body, status);
  }
}
