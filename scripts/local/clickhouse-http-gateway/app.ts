/**
 * The gateway's HTTP face: ClickHouse's HTTP interface (what @clickhouse/client and
 * @clickhouse/client-web speak) on top of chDB, and its lifecycle. `createClickHouseGateway`
 * builds it from a config so tests and benchmarks run it in-process on port 0.
 *
 * Routes: `GET /ping` (and `GET /` without a query) → `Ok.\n`; `GET /` (read-only) and `POST /`
 * run one statement. Responses follow the server: result bytes in the asked format, or an
 * exception text with `X-ClickHouse-Exception-Code` and the server's status for that code.
 */
import { randomUUID, timingSafeEqual } from "node:crypto";
import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { type ServerType, serve } from "@hono/node-server";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Logger } from "pino";
import type { Part } from "../../../origin/src/lifecycle.ts";
import { writeEngineConfig } from "./access.ts";
import type { GatewayConfig } from "./config.ts";
import { ChdbSession } from "./engine.ts";
import { ClickHouseException, chError, formatExceptionText } from "./errors.ts";
import { SessionPool } from "./pool.ts";
import { composeSqlText, parseRequestParameters, requestedTimeoutMs } from "./request.ts";
import { buildPrelude, statementGuard, withoutGuardScope } from "./settings.ts";
import { analyzeSql } from "./sql.ts";

/** Extra time the JS watchdog gives the engine's own `max_execution_time` to fire first. */
const WATCHDOG_GRACE_MS = 2000;
const DEFAULT_FORMAT = "TabSeparated";

/** A lifecycle part (origin/src/lifecycle.ts), so `runProcess` runs it like the origin's parts. */
export interface ClickHouseGateway extends Part {
  readonly app: Hono;
  /** Opens the chDB sessions and listens on config.host:config.port (0 = a free port). */
  start(): Promise<{ port: number; url: string }>;
  /** Stops accepting, lets in-flight queries finish (bounded by the shutdown timeout), closes chDB. */
  stop(): Promise<void>;
  stats(): { pool: ReturnType<SessionPool<ChdbSession>["stats"]> | undefined; inFlight: number };
}

/** Content-Type a real server sends for a given output format. */
export function contentTypeFor(format: string, arrayOfRows = false): string {
  const f = format.toLowerCase();
  if (f.startsWith("tabseparated") || f.startsWith("tsv")) return "text/tab-separated-values; charset=UTF-8";
  if (f.startsWith("csv")) return `text/csv; charset=UTF-8; header=${f.includes("withnames") ? "present" : "absent"}`;
  // JSONEachRow and JSONStringsEachRow (aliases JSONLines, NDJSON) are newline-delimited JSON; the
  // server says so unless output_format_json_array_of_rows turns them into one array. The
  // *WithProgress variants and the other JSON formats are application/json there.
  if (/^(jsoneachrow|jsonstringseachrow|jsonlines|ndjson)$/.test(f)) {
    return arrayOfRows ? "application/json; charset=UTF-8" : "application/x-ndjson; charset=UTF-8";
  }
  if (f.startsWith("json")) return "application/json; charset=UTF-8";
  if (/^(rowbinary|native|parquet|arrow|orc|avro|protobuf|capnproto|msgpack|bson|npy)/.test(f)) {
    return "application/octet-stream";
  }
  return "text/plain; charset=UTF-8";
}

interface Summary {
  read_rows: string;
  read_bytes: string;
  written_rows: string;
  written_bytes: string;
  total_rows_to_read: string;
  result_rows: string;
  result_bytes: string;
  elapsed_ns: string;
}

function summaryOf(p: { resultRows?: number; resultBytes?: number; elapsedNs?: number }): Summary {
  // chDB reports the result's rows and bytes and the elapsed time; it does not report rows read
  // from storage or written, so those stay "0" rather than being guessed.
  return {
    read_rows: "0",
    read_bytes: "0",
    written_rows: "0",
    written_bytes: "0",
    total_rows_to_read: "0",
    result_rows: String(p.resultRows ?? 0),
    result_bytes: String(p.resultBytes ?? 0),
    elapsed_ns: String(p.elapsedNs ?? 0),
  };
}

/**
 * The HTTP codecs the gateway speaks, in the server's order of preference for a response
 * (`chooseHTTPCompressionMethod`: zstd, then br, …, then gzip and deflate). zstd comes from
 * Node's zlib (Node >= 22.15; the stack runs the project's Node 22). The server also knows lz4,
 * xz, bz2 and snappy; Node has no codec for them, so they stay unknown here (415 for a request
 * body, never chosen for a response).
 */
const CODECS = {
  zstd: { decode: promisify(zlib.zstdDecompress), encode: promisify(zlib.zstdCompress) },
  br: { decode: promisify(zlib.brotliDecompress), encode: promisify(zlib.brotliCompress) },
  gzip: { decode: promisify(zlib.gunzip), encode: promisify(zlib.gzip) },
  deflate: { decode: promisify(zlib.inflate), encode: promisify(zlib.deflate) },
} as const;

type Codec = keyof typeof CODECS;
const PREFERENCE = Object.keys(CODECS) as Codec[];

function isCodec(name: string): name is Codec {
  return Object.hasOwn(CODECS, name);
}

async function decodeBody(buf: Buffer, encoding: string | undefined): Promise<Buffer> {
  const name = (encoding ?? "").trim().toLowerCase();
  if (name === "" || name === "identity") return buf;
  if (isCodec(name)) return CODECS[name].decode(buf);
  throw new ClickHouseException(779, `Unknown Content-Encoding of HTTP request: ${encoding}`, {
    type: "UNSUPPORTED_MEDIA_TYPE",
  });
}

/**
 * The response codec for `Accept-Encoding`, when the client asked for compression: the server's
 * preference among the listed codings (case-insensitive whole tokens), `q=0` refusing one and
 * `*` standing for any coding not refused. Other q-values do not reorder, as on the server.
 */
export function responseCodec(compressResponse: boolean, acceptEncoding: string | undefined): Codec | undefined {
  if (!compressResponse || !acceptEncoding) return undefined;
  const accepted = new Set<string>();
  const refused = new Set<string>();
  for (const part of acceptEncoding.split(",")) {
    const [token = "", ...params] = part.split(";").map((x) => x.trim().toLowerCase());
    if (token === "") continue;
    const q = params.find((p) => /^q\s*=/.test(p));
    const zero = q !== undefined && Number(q.slice(q.indexOf("=") + 1).trim()) === 0;
    (zero ? refused : accepted).add(token);
  }
  const any = accepted.has("*");
  return PREFERENCE.find((c) => !refused.has(c) && (accepted.has(c) || any));
}

async function compress(body: Uint8Array, codec: Codec): Promise<Uint8Array> {
  return CODECS[codec].encode(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createClickHouseGateway(config: GatewayConfig, log: Logger): ClickHouseGateway {
  let pool: SessionPool<ChdbSession> | undefined;
  let server: ServerType | undefined;
  let version = "unknown";
  let inFlight = 0;
  let draining = false;
  const idle: Array<() => void> = [];

  /**
   * The server's exception response. When the client asked for a compressed response, the
   * exception is compressed too (the server writes it through the same compressed output), so a
   * client that decompresses by Content-Encoding reads the text instead of failing on it.
   */
  const exceptionResponse = async (
    c: Context,
    err: ClickHouseException,
    headers: Record<string, string>,
    codec?: Codec,
  ): Promise<Response> => {
    const text = new TextEncoder().encode(formatExceptionText(err, version));
    const out: Record<string, string> = {
      ...headers,
      "Content-Type": "text/plain; charset=UTF-8",
      "X-ClickHouse-Exception-Code": String(err.code),
    };
    if (codec) out["Content-Encoding"] = codec;
    const body = codec ? await compress(text, codec) : text;
    return c.body(body as Uint8Array<ArrayBuffer>, err.status as 500, out);
  };

  const app = new Hono();

  app.get("/ping", (c) => c.text("Ok.\n"));
  app.get("/replicas_status", (c) => c.text("Ok.\n"));

  app.on(
    ["GET", "POST"],
    "/",
    bodyLimit({
      maxSize: config.maxBodyBytes,
      onError: (c) =>
        exceptionResponse(
          c,
          chError(
            "QUERY_IS_TOO_LARGE",
            `Request body is larger than ${config.maxBodyBytes} bytes (CH_GATEWAY_MAX_BODY_BYTES)`,
          ),
          {},
        ),
    }),
    async (c) => {
      const t0 = performance.now();
      const url = new URL(c.req.url);
      if (c.req.method === "GET" && !url.searchParams.has("query")) return c.text("Ok.\n");

      let queryId: string = randomUUID();
      let kind = "unknown";
      let summary = summaryOf({});
      let format = DEFAULT_FORMAT;
      const baseHeaders = (): Record<string, string> => ({
        "X-ClickHouse-Query-Id": queryId,
        "X-ClickHouse-Format": format,
        "X-ClickHouse-Timezone": "UTC",
        "X-ClickHouse-Summary": JSON.stringify(summary),
      });
      // Decided before anything can fail, so errors are compressed like results.
      const codec = responseCodec(
        url.searchParams.get("enable_http_compression") === "1",
        c.req.header("accept-encoding"),
      );
      inFlight++;
      let status = 200;
      let errorCode: number | undefined;
      try {
        const req = parseRequestParameters(url.searchParams, c.req.raw.headers);
        if (req.queryId) queryId = req.queryId;
        if (req.defaultFormat) format = req.defaultFormat;

        // Authenticate before reading the body, as the server does.
        const { user, password, source } = req.credentials;
        if (source === "bearer" || user !== config.user || !sameSecret(password, config.password)) {
          throw chError(
            "AUTHENTICATION_FAILED",
            `${user || "default"}: Authentication failed: password is incorrect, or there is no user with such name`,
          );
        }
        if (req.sessionId) {
          throw chError(
            "NOT_IMPLEMENTED",
            "HTTP sessions (session_id) are not supported by the chDB gateway; every request runs on its own",
          );
        }
        if (draining) throw chError("CANNOT_SCHEDULE_TASK", "The gateway is shutting down");

        let bodyText = "";
        if (c.req.method === "POST") {
          const contentType = c.req.header("content-type") ?? "";
          if (contentType.toLowerCase().startsWith("multipart/form-data")) {
            // clickhouse-js moves long parameters into a multipart body (`query` + `param_*` parts).
            const form = await c.req.raw.formData();
            form.forEach((value, name) => {
              if (typeof value !== "string") return;
              if (name === "query") req.queryParam = composeSqlText(req.queryParam, value);
              else if (name.startsWith("param_")) req.params.set(name.slice("param_".length), value);
            });
          } else {
            const raw = Buffer.from(await c.req.arrayBuffer());
            bodyText = (await decodeBody(raw, c.req.header("content-encoding"))).toString("utf8");
          }
        }

        const analyzed = analyzeSql(composeSqlText(req.queryParam, bodyText), req.params);
        kind = analyzed.kind;
        if (analyzed.format) format = analyzed.format;
        const readonly = c.req.method === "GET";
        // Early, clearer answer for the plain case; the engine's `readonly = 2` is what enforces it.
        if (readonly && analyzed.kind !== "select") {
          throw chError(
            "READONLY",
            "Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly. You should use method POST for modifying queries",
            { status: 500 },
          );
        }

        const asked = requestedTimeoutMs(req.settings);
        const timeoutMs = Math.min(config.timeoutMs, asked ?? Number.POSITIVE_INFINITY);
        const deadline = t0 + timeoutMs;
        if (!pool) throw chError("CANNOT_SCHEDULE_TASK", "The gateway has not started");
        const session = await pool.acquire(Math.max(1, deadline - performance.now()));
        // A request that changed settings, or ran SET/USE itself, leaves state behind: retire it.
        let retire = req.settings.size > (req.settings.has("max_execution_time") ? 1 : 0);
        retire ||= analyzed.kind === "set" || analyzed.kind === "use";
        // `readonly = 2` persists on the session like any SET: a GET's session is not reused.
        retire ||= readonly;
        try {
          // Queue wait counts against the deadline; a negligible wait keeps the round figure the
          // client asked for, so the engine's error reads like the server's.
          const leftMs = deadline - performance.now();
          const remainingMs = leftMs >= timeoutMs - 50 ? timeoutMs : Math.max(1, leftMs);
          const targetDb = req.database ?? "default";
          const prelude = buildPrelude({
            settings: req.settings,
            maxExecutionSeconds: remainingMs / 1000,
            currentDatabase: session.database,
            targetDatabase: targetDb,
            readonly,
          });
          const guard = statementGuard(analyzed.statement, analyzed.kind);
          // An INSERT without data inserts nothing, as on a server; chDB would refuse it
          // (NO_DATA_TO_INSERT) before looking at the table. The server still resolves the target
          // and its columns, so the engine builds the INSERT's pipeline without running it
          // (EXPLAIN PIPELINE): a missing database, table or column, or a column that cannot be
          // inserted, fails with the engine's own error, as the same INSERT with rows would.
          const emptyInsert = analyzed.insertData !== undefined && analyzed.insertData.trim() === "";
          session.database = undefined; // unknown until the call succeeds
          try {
            const sql = emptyInsert
              ? `${prelude}${guard}EXPLAIN PIPELINE ${analyzed.statement}`
              : prelude + guard + analyzed.sql;
            const result = await session.run(sql, format, remainingMs + WATCHDOG_GRACE_MS);
            session.database = targetDb;
            summary = summaryOf(emptyInsert ? {} : result);
            let body: Uint8Array = emptyInsert ? new Uint8Array(0) : result.body;
            const arrayOfRows = /^(1|true)$/i.test(req.settings.get("output_format_json_array_of_rows") ?? "");
            const headers: Record<string, string> = {
              ...baseHeaders(),
              "Content-Type": contentTypeFor(format, arrayOfRows),
            };
            if (codec) {
              body = await compress(body, codec);
              headers["Content-Encoding"] = codec;
            }
            return c.body(body as Uint8Array<ArrayBuffer>, 200, headers);
          } catch (err) {
            // chDB keeps the partial output of a query that failed while writing its result and
            // prepends it to the session's next result (measured on 26.7: a JSON header leaked
            // into the next request's TabSeparated answer), so a session that saw an error is
            // never reused. This also covers the JS watchdog's timeout (the query may still be
            // running inside chDB) and a failed prelude that applied part of its settings.
            retire = true;
            throw withoutGuardScope(err);
          }
        } finally {
          pool.release(session, { retire });
        }
      } catch (err) {
        const ex =
          err instanceof ClickHouseException
            ? err
            : new ClickHouseException(1002, (err as Error).message ?? String(err), { cause: err });
        status = ex.status;
        errorCode = ex.code;
        if (ex.code === 1002) log.error({ err }, "unexpected gateway failure");
        return exceptionResponse(c, ex, baseHeaders(), codec);
      } finally {
        inFlight--;
        log.info(
          {
            method: c.req.method,
            kind,
            status,
            ms: Math.round((performance.now() - t0) * 10) / 10,
            rows: Number(summary.result_rows),
            code: errorCode,
            query_id: queryId,
          },
          "request",
        );
        if (inFlight === 0) for (const f of idle.splice(0)) f();
      }
    },
  );

  app.notFound((c) =>
    c.text(`There is no handle ${new URL(c.req.url).pathname}\n\nUse / or /ping for health checks.\n`, 404),
  );

  return {
    name: "clickhouse-gateway",
    app,
    stats: () => ({ pool: pool?.stats(), inFlight }),
    health: () => ({ ok: server !== undefined && !draining, detail: { pool: pool?.stats(), inFlight } }),
    async start() {
      mkdirSync(config.dataDir, { recursive: true });
      const configFile = writeEngineConfig(config.dataDir, { hostAccess: config.hostAccess });
      pool = new SessionPool<ChdbSession>({
        size: config.sessions,
        queueSize: config.queueSize,
        create: () => new ChdbSession(config.dataDir, config.timeoutMs, configFile),
        retire: (s) => s.close(),
      });
      // The engine's version goes into every exception text, like the server's `(version …)`.
      const probe = await pool.acquire(config.timeoutMs);
      try {
        const r = await probe.run("SELECT version()", "TabSeparated", config.timeoutMs);
        version = Buffer.from(r.body).toString("utf8").trim();
      } finally {
        pool.release(probe, { retire: false });
      }
      const listening = await new Promise<AddressInfo>((resolve, reject) => {
        // URLs carry query parameters (param_*): allow 1 MiB like the server's http_max_uri_size,
        // instead of Node's 16 KiB header limit (which answered 431 with an empty body).
        const s = serve(
          { fetch: app.fetch, hostname: config.host, port: config.port, serverOptions: { maxHeaderSize: 1024 * 1024 } },
          (info) => resolve(info),
        );
        s.once("error", reject);
        server = s;
      });
      const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${listening.port}`;
      log.info(
        {
          url,
          dataDir: config.dataDir,
          sessions: config.sessions,
          queue: config.queueSize,
          version,
          hostAccess: config.hostAccess,
        },
        "clickhouse-gateway listening",
      );
      return { port: listening.port, url };
    },
    async stop() {
      draining = true;
      const s = server;
      server = undefined;
      const closed = s ? new Promise<void>((resolve) => s.close(() => resolve())) : Promise.resolve();
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => idle.push(resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref()),
        ]);
      }
      if (s && "closeAllConnections" in s) (s as { closeAllConnections(): void }).closeAllConnections();
      await closed;
      pool?.close();
      pool = undefined;
      log.info("clickhouse-gateway stopped");
    },
  };
}
