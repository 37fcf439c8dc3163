/**
 * The one JSON error envelope of the public API: `{"error": {"code", "message"}}`.
 * Both runtimes build error bodies through `errorBody` so the shape cannot drift, and turn a
 * thrown error into an answer through `errorAnswer`.
 */

/** Stable machine-readable error codes. */
export type ErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "rate_limited"
  | "internal"
  | "not_implemented"
  | "unavailable"
  | "timeout";

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorEnvelope {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

/** Default HTTP status for each error code. */
export const STATUS_OF: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  not_implemented: 501,
  unavailable: 503,
  timeout: 504,
};

/** An error that carries its public code and status; thrown by handlers, rendered in one place. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: number;
  /** Response headers that belong with this error (e.g. Retry-After). */
  readonly headers?: Record<string, string>;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown; status?: number; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = options?.status ?? STATUS_OF[code];
    if (options?.headers) this.headers = options.headers;
  }
}

/** A thrown error as an HTTP answer in the envelope. */
export interface ErrorAnswer {
  status: number;
  body: ErrorEnvelope;
  headers: Record<string, string>;
  /** Neither an ApiError nor a framework HTTP error: a bug or an outage the caller logs. */
  unexpected: boolean;
}

/**
 * A web framework's HTTP error (hono's HTTPException: body limit, malformed JSON…), recognised
 * by shape as hono's own default handler does, so this module needs no framework import.
 */
function isHttpError(err: unknown): err is Error & { status: number } {
  return err instanceof Error && "getResponse" in err && typeof (err as { status?: unknown }).status === "number";
}

/** The nearest code for a framework error's status. */
function codeForStatus(status: number): ErrorCode {
  const exact = (Object.keys(STATUS_OF) as ErrorCode[]).find((code) => STATUS_OF[code] === status);
  if (exact) return exact;
  return status >= 500 ? "internal" : "bad_request";
}

/**
 * Answers any thrown value: an ApiError keeps its code, status, details and headers; a framework
 * HTTP error maps to the nearest code; anything else is a 500 that says nothing more.
 */
export function errorAnswer(err: unknown): ErrorAnswer {
  if (err instanceof ApiError) {
    return {
      status: err.status,
      body: errorBody(err.code, err.message, err.details),
      headers: { ...err.headers },
      unexpected: false,
    };
  }
  if (isHttpError(err)) {
    return {
      status: err.status,
      body: errorBody(codeForStatus(err.status), err.message || "request rejected"),
      headers: {},
      unexpected: false,
    };
  }
  return { status: 500, body: errorBody("internal", "internal error"), headers: {}, unexpected: true };
}
