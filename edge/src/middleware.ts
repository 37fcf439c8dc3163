/** The edge's middleware: request id, one log line per request, context, auth, body limit. */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "#core/errors.ts";
import { authenticate } from "./auth.ts";
import { clientsFor } from "./clients.ts";
import { type EdgeConfig, readEdgeConfig } from "./config.ts";
import type { AppEnv } from "./env.ts";

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{8,128}$/;

/** Reuses a sane incoming X-Request-Id (a proxy's), else makes one; echoes it on the response. */
export const requestId = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const incoming = c.req.header("x-request-id");
  const id = incoming && REQUEST_ID_RE.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", id);
  c.set("logFields", {});
  await next();
  c.header("X-Request-Id", id);
};

/** Exactly one structured JSON log line per request, after the response is built. */
export const requestLog = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const t0 = performance.now();
  await next();
  const line = {
    level: c.res.status >= 500 ? "error" : "info",
    msg: "request",
    request_id: c.get("requestId"),
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    ms: Math.round((performance.now() - t0) * 10) / 10,
    user_id: c.get("userId"),
    ...c.get("logFields"),
  };
  console.log(JSON.stringify(line));
};

/**
 * Puts the validated configuration and its clients on the context (`c.var.config`,
 * `c.var.clients`); the only reader of `c.env`. A bad configuration throws its 500 here, for
 * every request, so it cannot go unnoticed (see config.ts).
 */
export const appContext = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  let config: EdgeConfig;
  try {
    config = readEdgeConfig(c.env);
  } catch (err) {
    c.get("logFields").config = "invalid";
    throw err;
  }
  c.set("config", config);
  c.set("clients", clientsFor(config));
  await next();
};

/**
 * Headers every answer carries, errors included (outermost, so it sees the final response):
 * `X-Content-Type-Options: nosniff` always; `Cache-Control: no-store` on every error and on
 * every answer to an authenticated caller (personalized), unless the route set a stricter one.
 */
export const securityHeaders = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  await next();
  c.res.headers.set("X-Content-Type-Options", "nosniff");
  const personalized = c.get("userId") !== undefined;
  if (c.res.status >= 400 || personalized) {
    const current = c.res.headers.get("Cache-Control") ?? "";
    if (!/\bno-store\b/.test(current))
      c.res.headers.set("Cache-Control", personalized ? "private, no-store" : "no-store");
  }
};

/**
 * After the answer is built, a request body nobody read (a 401, 404, 405, 415 or 429 before the
 * body was needed) is drained within bounds and cancelled (discardBody), so no answer leaves
 * with an unread, unreleased request stream (see limitBody for why that matters).
 */
export const settleRequestBody = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  await next();
  const body = c.req.raw.body;
  if (body && !c.req.raw.bodyUsed && !body.locked) await discardBody(body.getReader());
};

/** The methods the API routes by; anything else is a 501 before routing. */
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);

/**
 * A method the API does not implement at all (WebDAV verbs, made-up or lowercase ones that the
 * runtime lets through) → 501 `not_implemented` in the envelope. What workerd answers itself,
 * before the app sees the request, is listed in the README (Errors).
 */
export const knownMethods = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  if (!KNOWN_METHODS.has(c.req.method)) {
    throw new ApiError("not_implemented", `method ${JSON.stringify(c.req.method.slice(0, 32))} is not implemented`);
  }
  await next();
};

/** Requires a valid bearer token; sets `userId`. */
export const requireUser = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  c.set("userId", await authenticate(c.req.header("authorization"), c.var.config.auth));
  await next();
};

/** Past the limit, how much more of a body is read and dropped so the 413 reaches the client. */
export const BODY_DRAIN_MAX_BYTES = 8 * 1024 * 1024;
/** …and for how long at most (a slow or endless body is cut off instead). */
export const BODY_DRAIN_MAX_MS = 2000;

/**
 * Reads the rest of an over-limit body and drops it, within BODY_DRAIN_MAX_BYTES and
 * BODY_DRAIN_MAX_MS, then cancels the stream whatever is left: it is never left locked and
 * unread. Draining lets a client that sends its whole body before reading (curl, most HTTP
 * libraries) receive the 413; cancelling bounds what an endless or huge body can cost.
 */
export async function discardBody(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  const deadline = Date.now() + BODY_DRAIN_MAX_MS;
  let drained = 0;
  try {
    while (drained <= BODY_DRAIN_MAX_BYTES) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), left);
      });
      const r = await Promise.race([reader.read(), timeout]).finally(() => {
        if (timer !== undefined) clearTimeout(timer);
      });
      if (r === "timeout" || r.done) break;
      drained += r.value.byteLength;
    }
  } catch {
    // The client went away mid-body: nothing left to drain.
  }
  await reader.cancel().catch(() => {});
}

/**
 * Bounds the request body; over the limit → 413 in the error envelope, for a declared
 * Content-Length and for a chunked body alike. Replaces hono's bodyLimit, which on overflow
 * answers at once while still holding a reader on the half-read request stream. workerd then
 * has an answered request whose body is neither read nor cancelled: under `wrangler dev` the
 * proxy worker in front of the app, still uploading the client's chunks into it, has that
 * upload broken ("Network connection lost"), so the client gets a plain-text 500 or a dropped
 * connection instead of the 413, and wrangler 4.124 (what the probe ran) treated that proxy
 * error as fatal and exited. Here the body is drained (bounded) and cancelled before the 413
 * leaves (discardBody). A body that breaks off mid-way (client gone) is a 400, not a 500.
 */
export const limitBody =
  (maxBytes: number): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const raw = c.req.raw;
    const stream = raw.body;
    if (!stream) return next();
    const tooLarge = () => new ApiError("payload_too_large", `request body exceeds ${maxBytes} bytes`);
    const reader = stream.getReader();
    const declared = raw.headers.get("content-length");
    if (declared !== null && !raw.headers.has("transfer-encoding") && Number(declared) > maxBytes) {
      await discardBody(reader);
      throw tooLarge();
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch {
        throw new ApiError("bad_request", "request body could not be read (connection closed mid-body?)");
      }
      if (chunk.done) break;
      size += chunk.value.byteLength;
      if (size > maxBytes) {
        await discardBody(reader);
        throw tooLarge();
      }
      chunks.push(chunk.value);
    }
    const body = new Uint8Array(size);
    let offset = 0;
    for (const part of chunks) {
      body.set(part, offset);
      offset += part.byteLength;
    }
    c.req.raw = new Request(raw, { body });
    await next();
  };
