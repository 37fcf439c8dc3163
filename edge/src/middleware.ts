/** The edge's middleware: request id, one log line per request, context, auth, body limit. */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "../core/index.ts";
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

/** Requires a valid bearer token; sets `userId`. */
export const requireUser = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  c.set("userId", await authenticate(c.req.header("authorization"), c.var.config.auth));
  await next();
};

/** Bounds the request body; over the limit → 413 in the error envelope. */
export const limitBody = (maxBytes: number): MiddlewareHandler<AppEnv> =>
  bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError("payload_too_large", `request body exceeds ${maxBytes} bytes`);
    },
  });
