/**
 * Retries for the origin's parts, after kafkajs: only failures that another attempt can fix are
 * retried (`retriable`), with capped, jittered exponential waits that the part's stop signal cuts
 * short. Bounded where giving up is right; unbounded only where the design holds work until it
 * lands (the sink's batch while ClickHouse is down, the relay's batch while Kafka is down).
 */

/** Capped exponential backoff with equal jitter: attempt 0 → [baseMs/2, baseMs], never above capMs. */
export function backoffMs(attempt: number, baseMs = 1000, capMs = 60_000, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Socket and DNS failures of Node and undici (fetch): the peer is away, not saying no. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

/**
 * ClickHouse exceptions the server answers with a 4xx status (its exceptionCodeToHTTPStatus):
 * the request is wrong (syntax, data, an unknown table or setting, credentials), so repeating it
 * cannot help. Every other server exception (500/503: memory, too many parts or queries,
 * timeouts, a replica away) may pass.
 */
const CLICKHOUSE_PERMANENT = new Set(
  `REQUIRED_PASSWORD UNKNOWN_USER WRONG_PASSWORD AUTHENTICATION_FAILED SET_NON_GRANTED_ROLE ACCESS_DENIED
   BAD_ARGUMENTS CANNOT_COMPILE_REGEXP CANNOT_PARSE_TEXT CANNOT_PARSE_ESCAPE_SEQUENCE CANNOT_PARSE_QUOTED_STRING
   CANNOT_PARSE_DATE CANNOT_PARSE_DATETIME CANNOT_PARSE_NUMBER CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING CANNOT_PARSE_IPV4
   CANNOT_PARSE_IPV6 CANNOT_PARSE_INPUT_ASSERTION_FAILED CANNOT_PARSE_UUID DUPLICATE_COLUMN ILLEGAL_COLUMN
   UNKNOWN_ELEMENT_IN_AST UNKNOWN_TYPE_OF_AST_NODE THERE_IS_NO_COLUMN TOO_DEEP_AST TOO_BIG_AST UNEXPECTED_AST_STRUCTURE
   SYNTAX_ERROR INCORRECT_DATA TYPE_MISMATCH VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE UNKNOWN_TABLE UNKNOWN_FUNCTION
   UNKNOWN_IDENTIFIER UNKNOWN_TYPE UNKNOWN_STORAGE UNKNOWN_DATABASE UNKNOWN_SETTING UNKNOWN_DIRECTION_OF_SORTING
   UNKNOWN_AGGREGATE_FUNCTION UNKNOWN_FORMAT UNKNOWN_DATABASE_ENGINE UNKNOWN_TYPE_OF_QUERY UNKNOWN_ROLE
   QUERY_IS_TOO_LARGE NOT_IMPLEMENTED HTTP_LENGTH_REQUIRED UNSUPPORTED_MEDIA_TYPE UNKNOWN_QUERY_PARAMETER`.split(/\s+/),
);

/** Redis replies that mean "not now" (loading the dataset after a restart, a failover), not "no". */
const REDIS_NOT_NOW = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY)\b/;

type ErrorLike = Error & {
  retriable?: unknown;
  code?: unknown;
  type?: unknown;
  status?: unknown;
  statusCode?: unknown;
};

/**
 * Whether another attempt may succeed: network failures and timeouts, errors their library
 * marks retriable (kafkajs, ConnectError), HTTP 408/425/429/5xx, ClickHouse server exceptions
 * other than bad requests, Redis replies meaning "not now". Not: 4xx, validation, syntax,
 * unknown objects, an abort, anything unrecognised.
 */
export function retriable(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 5) return false;
  const e = err as ErrorLike;
  if (e.name === "AbortError") return false;
  if (e.name === "TimeoutError") return true;
  // kafkajs's own rule for restarting a crashed consumer: its retrier gave up on a retriable
  // failure, or the failure underneath is marked retriable.
  if (e.name.startsWith("KafkaJS")) {
    if (e.name === "KafkaJSNumberOfRetriesExceeded") return true;
    let inner: ErrorLike = e;
    while (inner.cause instanceof Error) inner = inner.cause as ErrorLike;
    return inner.retriable === true;
  }
  if (typeof e.retriable === "boolean") return e.retriable;
  const status = typeof e.status === "number" ? e.status : e.statusCode;
  if (typeof status === "number") return status === 408 || status === 425 || status === 429 || status >= 500;
  if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) return true;
  // @clickhouse/client's ClickHouseError: numeric code, upper-case type.
  if (typeof e.type === "string" && typeof e.code === "string" && /^\d+$/.test(e.code)) {
    return !CLICKHOUSE_PERMANENT.has(e.type);
  }
  if (e.name === "ReplyError") return REDIS_NOT_NOW.test(e.message);
  // ioredis while reconnecting; @clickhouse/client's request timeout (plain errors, no code).
  if (e.name === "MaxRetriesPerRequestError" || e.message === "Connection is closed.") return true;
  if (e.message === "Timeout error.") return true;
  return retriable(e.cause, depth + 1);
}

export interface RetryOptions {
  /** Retries after the first attempt: a bound where giving up is right, Infinity where the work must land. */
  retries: number;
  /** Ceiling of the first wait (ms); each later one doubles, up to `maxMs` (see backoffMs). */
  minMs: number;
  maxMs: number;
  /** Aborting it ends a wait at once; the retry then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Which failures get another attempt. Default `retriable`. */
  retriable?: (err: unknown) => boolean;
  /** Told of every retry before its wait: where the caller logs and counts it. */
  onRetry?: (retry: { error: Error; attempt: number; waitMs: number }) => void;
}

/**
 * Runs `op` until it succeeds, fails with a non-retriable error, runs out of retries or is
 * aborted. An abort cuts a wait short but never an attempt: an attempt that succeeds while the
 * part stops still counts (the relay acknowledges a batch Kafka took), which is why this is not
 * p-retry, whose signal discards such a result.
 */
export async function retry<T>(op: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const shouldRetry = opts.retriable ?? retriable;
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await op(attempt);
    } catch (err) {
      if (attempt > opts.retries || opts.signal?.aborted || !shouldRetry(err)) throw err;
      const waitMs = backoffMs(attempt - 1, opts.minMs, opts.maxMs);
      opts.onRetry?.({ error: err as Error, attempt, waitMs });
      await sleep(waitMs, opts.signal);
    }
  }
}

/** A wait that ends early, rejecting with the signal's reason, when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
