/**
 * ClickHouse-shaped errors: the text a real server writes (`Code: <n>. DB::Exception: <message>.
 * (<TYPE>) (version <v>)`), the HTTP status it picks for a code, and one error class the gateway
 * throws for failures it detects itself (auth, queue full, multi-statements, timeouts).
 *
 * The status table is transcribed from ClickHouse's `src/Server/HTTP/exceptionCodeToHTTPStatus.cpp`
 * (REQUIRED_PASSWORD → 401; bad credentials and ACCESS_DENIED → 403; parse/syntax → 400; unknown
 * table/db/setting/function… → 404; TIMEOUT_EXCEEDED → 408; everything else → 500). Clients key
 * on the code in the body and on `X-ClickHouse-Exception-Code`, so both must stay exact.
 */

/**
 * Codes the gateway produces itself (numbers checked against chDB's `errorCodeToName`). Errors
 * coming from chDB keep the code and name the engine gave them.
 */
export const CODES = {
  SYNTAX_ERROR: 62,
  NOT_IMPLEMENTED: 48,
  BAD_ARGUMENTS: 36,
  TIMEOUT_EXCEEDED: 159,
  READONLY: 164,
  TOO_MANY_SIMULTANEOUS_QUERIES: 202,
  CANNOT_SCHEDULE_TASK: 439,
  QUERY_IS_TOO_LARGE: 229,
  UNKNOWN_QUERY_PARAMETER: 456,
  AUTHENTICATION_FAILED: 516,
  UNKNOWN_EXCEPTION: 1002,
} as const;

export type CodeName = keyof typeof CODES;

const NAME_BY_CODE = new Map<number, string>(Object.entries(CODES).map(([name, code]) => [code, name]));

// Keyed by name rather than number: chDB's messages carry the name, and a name cannot be mistyped
// into a neighbouring code the way a bare number can.
const STATUS_BY_NAME = new Map<string, number>();
function statuses(status: number, names: string): void {
  for (const name of names.split(/\s+/).filter(Boolean)) STATUS_BY_NAME.set(name, status);
}
statuses(401, "REQUIRED_PASSWORD");
statuses(403, "UNKNOWN_USER WRONG_PASSWORD AUTHENTICATION_FAILED SET_NON_GRANTED_ROLE ACCESS_DENIED");
statuses(
  400,
  `BAD_ARGUMENTS CANNOT_COMPILE_REGEXP CANNOT_PARSE_TEXT CANNOT_PARSE_ESCAPE_SEQUENCE CANNOT_PARSE_QUOTED_STRING
   CANNOT_PARSE_DATE CANNOT_PARSE_DATETIME CANNOT_PARSE_NUMBER CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING CANNOT_PARSE_IPV4
   CANNOT_PARSE_IPV6 CANNOT_PARSE_INPUT_ASSERTION_FAILED CANNOT_PARSE_UUID DUPLICATE_COLUMN ILLEGAL_COLUMN
   UNKNOWN_ELEMENT_IN_AST UNKNOWN_TYPE_OF_AST_NODE THERE_IS_NO_COLUMN TOO_DEEP_AST TOO_BIG_AST UNEXPECTED_AST_STRUCTURE
   SYNTAX_ERROR INCORRECT_DATA TYPE_MISMATCH VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE`,
);
statuses(
  404,
  `UNKNOWN_TABLE UNKNOWN_FUNCTION UNKNOWN_IDENTIFIER UNKNOWN_TYPE UNKNOWN_STORAGE UNKNOWN_DATABASE UNKNOWN_SETTING
   UNKNOWN_DIRECTION_OF_SORTING UNKNOWN_AGGREGATE_FUNCTION UNKNOWN_FORMAT UNKNOWN_DATABASE_ENGINE UNKNOWN_TYPE_OF_QUERY
   UNKNOWN_ROLE`,
);
statuses(413, "QUERY_IS_TOO_LARGE");
statuses(501, "NOT_IMPLEMENTED");
statuses(503, "SOCKET_TIMEOUT CANNOT_OPEN_FILE CANNOT_SCHEDULE_TASK");
statuses(411, "HTTP_LENGTH_REQUIRED");
statuses(408, "TIMEOUT_EXCEEDED");
statuses(415, "UNSUPPORTED_MEDIA_TYPE");

/** The HTTP status a real ClickHouse server answers an exception with, by the exception's name. */
export function statusForType(type: string): number {
  return STATUS_BY_NAME.get(type) ?? 500;
}

/**
 * An exception in ClickHouse terms. `status` defaults to the server's mapping of `code`; the
 * gateway overrides it only where no server code exists for the situation (queue full → 503).
 */
export class ClickHouseException extends Error {
  override readonly name = "ClickHouseException";
  readonly code: number;
  readonly type: string;
  readonly status: number;

  constructor(code: number, message: string, options?: { status?: number; type?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.type = options?.type ?? NAME_BY_CODE.get(code) ?? "UNKNOWN_EXCEPTION";
    this.status = options?.status ?? statusForType(this.type);
  }
}

/** Shorthand for an exception named by its ClickHouse error name. */
export function chError(name: CodeName, message: string, options?: { status?: number; cause?: unknown }) {
  return new ClickHouseException(CODES[name], message, options);
}

// chDB's native messages already read `Code: 60. DB::Exception: <text>. (UNKNOWN_TABLE)`; the
// message ends before the last `(TYPE)` marker. `s` because messages may span lines.
const NATIVE_RE = /^Code: (\d+)\. DB::Exception: (.*?)\.? \(([A-Z0-9_]+)\)(?: \(version [^)]*\))?\s*$/s;

/**
 * Turns whatever chDB threw into a ClickHouseException. chDB errors carry `clickhouseCode` and a
 * message already in server form; anything else (a binding bug, an addon failure) becomes 1002.
 */
export function fromEngineError(err: unknown): ClickHouseException {
  if (err instanceof ClickHouseException) return err;
  const e = err as { message?: unknown; clickhouseCode?: unknown } | undefined;
  const text = typeof e?.message === "string" ? e.message : String(err);
  const m = NATIVE_RE.exec(text.trim());
  if (m) {
    return new ClickHouseException(Number(m[1]), m[2] ?? text, { type: m[3], cause: err });
  }
  const code = typeof e?.clickhouseCode === "number" ? e.clickhouseCode : CODES.UNKNOWN_EXCEPTION;
  const stripped = text.replace(/^Code: \d+\. DB::Exception: /, "");
  return new ClickHouseException(code, stripped, { cause: err });
}

/** The body a real server writes for an exception; ends with a newline like the server's. */
export function formatExceptionText(err: ClickHouseException, version: string): string {
  const message = err.message.endsWith(".") ? err.message : `${err.message}.`;
  return `Code: ${err.code}. DB::Exception: ${message} (${err.type}) (version ${version})\n`;
}
