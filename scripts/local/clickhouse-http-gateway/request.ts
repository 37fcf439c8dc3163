/**
 * What the real HTTP handler reads from a request, as plain data: SQL pieces, `param_*` values,
 * settings, database, query id, default format, credentials. Pure functions, so the rules about
 * which URL parameters are settings can be tested without a server.
 */
import { chError } from "./errors.ts";

/**
 * URL parameters the server consumes itself (HTTPHandler and the session/auth/compression layers)
 * rather than applying as settings. chDB rejects several of them as settings (`query_id`,
 * `wait_end_of_query`), and others would change the output in ways the HTTP layer owns.
 */
const HTTP_ONLY = new Set([
  "query",
  "database",
  "default_format",
  "query_id",
  "session_id",
  "session_timeout",
  "session_check",
  "close_session",
  "role",
  "user",
  "password",
  "quota_key",
  "buffer_size",
  "wait_end_of_query",
  "compress",
  "decompress",
  "enable_http_compression",
  "stacktrace",
  "client_protocol_version",
  "send_progress_in_http_headers",
  "cancel_http_readonly_queries_on_client_close",
  "add_http_cors_header",
]);

/** True for URL parameters that are not ClickHouse settings. */
export function isHttpOnlyParameter(name: string): boolean {
  return HTTP_ONLY.has(name) || name.startsWith("param_") || name.startsWith("http_");
}

export interface Credentials {
  user: string;
  password: string;
  /** Where they came from, for the "mixed methods" rule. */
  source: "basic" | "headers" | "url" | "none" | "bearer";
}

export interface GatewayRequest {
  /** `query` URL parameter (or multipart part), if any. */
  queryParam: string | undefined;
  /** Raw `param_<name>` values, names without the prefix. */
  params: Map<string, string>;
  /** Settings for this request only, in arrival order. */
  settings: Map<string, string>;
  database: string | undefined;
  queryId: string | undefined;
  defaultFormat: string | undefined;
  sessionId: string | undefined;
  /** Client asked for a compressed response (`enable_http_compression=1`). */
  compressResponse: boolean;
  credentials: Credentials;
}

/** Reads everything but the body from the URL's parameters and the headers. */
export function parseRequestParameters(search: URLSearchParams, headers: Headers): GatewayRequest {
  const params = new Map<string, string>();
  const settings = new Map<string, string>();
  for (const [name, value] of search) {
    if (name.startsWith("param_")) params.set(name.slice("param_".length), value);
    // `readonly` and `allow_ddl` are settings like any other; settings.ts orders them so they
    // restrict the statement and cannot lower what the gateway enforces (GET's readonly = 2).
    else if (!isHttpOnlyParameter(name)) settings.set(name, value);
  }
  return {
    queryParam: search.get("query") ?? undefined,
    params,
    settings,
    database: nonEmpty(search.get("database")),
    queryId: nonEmpty(search.get("query_id")),
    defaultFormat: nonEmpty(search.get("default_format")),
    sessionId: nonEmpty(search.get("session_id")),
    compressResponse: search.get("enable_http_compression") === "1",
    credentials: readCredentials(search, headers),
  };
}

function nonEmpty(v: string | null): string | undefined {
  return v === null || v === "" ? undefined : v;
}

/**
 * Credentials the way the server looks for them: `Authorization: Basic`, then the
 * `X-ClickHouse-User`/`X-ClickHouse-Key` headers, then `user`/`password` URL parameters; none
 * means the `default` user with an empty password. Mixing two methods is refused, as the server does.
 */
export function readCredentials(search: URLSearchParams, headers: Headers): Credentials {
  const auth = headers.get("authorization");
  const headerUser = headers.get("x-clickhouse-user");
  const headerKey = headers.get("x-clickhouse-key");
  const urlUser = search.get("user");
  const urlPassword = search.get("password");
  const methods = [auth !== null, headerUser !== null || headerKey !== null, urlUser !== null || urlPassword !== null];
  if (methods.filter(Boolean).length > 1) {
    throw chError(
      "AUTHENTICATION_FAILED",
      "Invalid authentication: it is not allowed to use Authorization HTTP header, X-ClickHouse-User/X-ClickHouse-Key headers and authentication via parameters simultaneously",
    );
  }
  if (auth !== null) {
    const m = /^(Basic|Bearer)\s+(.*)$/i.exec(auth.trim());
    if (m && (m[1] as string).toLowerCase() === "basic") {
      const decoded = Buffer.from(m[2] as string, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      return colon === -1
        ? { user: decoded, password: "", source: "basic" }
        : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1), source: "basic" };
    }
    return { user: "", password: "", source: "bearer" };
  }
  if (headerUser !== null || headerKey !== null) {
    return { user: headerUser ?? "default", password: headerKey ?? "", source: "headers" };
  }
  if (urlUser !== null || urlPassword !== null) {
    return { user: urlUser ?? "default", password: urlPassword ?? "", source: "url" };
  }
  return { user: "default", password: "", source: "none" };
}

/** The SQL text of a request: `query` parameter and body joined by a newline, like the server. */
export function composeSqlText(queryParam: string | undefined, body: string): string {
  if (queryParam !== undefined && queryParam !== "" && body !== "") return `${queryParam}\n${body}`;
  if (queryParam !== undefined && queryParam !== "") return queryParam;
  return body;
}

/**
 * `max_execution_time` asked for by the request, in ms, or undefined. The server reads it in
 * seconds (fractions allowed); 0 means unlimited there, which the gateway's own cap replaces.
 */
export function requestedTimeoutMs(settings: ReadonlyMap<string, string>): number | undefined {
  const raw = settings.get("max_execution_time");
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw chError("BAD_ARGUMENTS", `Cannot parse max_execution_time value '${raw}'`);
  }
  return seconds === 0 ? undefined : seconds * 1000;
}
