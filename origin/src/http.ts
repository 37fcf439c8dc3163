/** The origin's HTTP server as a lifecycle part: /healthz, /readyz, /metrics and the write API. */
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import type { Logger } from "pino";
import { SIGNATURE_HEADERS } from "#core/auth/origin-auth.ts";
import { healthBody } from "#core/health.ts";
import type { OriginConfig } from "./config.ts";
import type { ExperimentsEnv } from "./experiments/api.ts";
import { errorResponse, notFoundResponse } from "./http-errors.ts";
import type { Part, PartHealth } from "./lifecycle.ts";
import type { Metrics } from "./metrics.ts";
import { type Check, runChecks } from "./readiness.ts";
import type { WriteEnv } from "./writes/routes.ts";

export interface OriginAppDeps {
  /** The write API, mounted at /v1 (signed requests from the edge only). */
  writes?: Hono<WriteEnv>;
  /** The operator API of ranking experiments, mounted at /v1/experiments (before the write API). */
  experiments?: Hono<ExperimentsEnv>;
  /** Every part's health (Lifecycle.health): /healthz reports it, /readyz needs every part ok. */
  parts: () => Promise<Record<string, PartHealth>>;
  /** The services the parts depend on (readiness.ts): /readyz needs every one ok. */
  checks: Record<string, Check>;
  metrics: Metrics;
  log: Logger;
}

/** What the edge accepts as a request id (edge/src/middleware.ts): the same rule here. */
const REQUEST_ID_RE = /^[A-Za-z0-9._-]{8,128}$/;

/**
 * The request id of a request: the edge's (the signed `x-edge-request-id`, or a plain
 * `X-Request-Id` from the edge or a proxy) when sane, else a new one. It is for logs only: the
 * write API's replay guard keys on the signature, never on this id.
 */
export function originRequestId(header: (name: string) => string | undefined): string {
  for (const name of [SIGNATURE_HEADERS.requestId, "x-request-id"]) {
    const v = header(name);
    if (v && REQUEST_ID_RE.test(v)) return v;
  }
  return crypto.randomUUID();
}

export type OriginEnv = { Variables: { requestId: string } };

export function createOriginApp(deps: OriginAppDeps): Hono<OriginEnv> {
  const app = new Hono<OriginEnv>();
  app.use(async (c, next) => {
    const t0 = performance.now();
    const requestId = originRequestId((n) => c.req.header(n));
    c.set("requestId", requestId);
    await next();
    c.res.headers.set("X-Request-Id", requestId);
    // As at the edge: never sniffed; errors and write answers (per user) never cached.
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    if (c.res.status >= 400 || c.req.path.startsWith("/v1/")) c.res.headers.set("Cache-Control", "no-store");
    const route = c.req.routePath || "unmatched";
    const ms = performance.now() - t0;
    deps.metrics.httpDuration.observe({ method: c.req.method, route, status: String(c.res.status) }, ms / 1000);
    if (route !== "/healthz" && route !== "/metrics") {
      deps.log.info(
        {
          request_id: requestId,
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          ms: Math.round(ms * 10) / 10,
        },
        "request",
      );
    }
  });
  // Alive whatever the parts say (a 200 as long as the process answers); the parts' states are
  // there for whoever looks.
  app.get("/healthz", async (c) => c.json({ ...healthBody("origin"), parts: await deps.parts() }));
  app.get("/readyz", async (c) => {
    const [services, parts] = await Promise.all([runChecks(deps.checks), deps.parts()]);
    const checks = { ...services, ...parts };
    const ready = Object.values(checks).every((h) => h.ok);
    return c.json({ ready, checks }, ready ? 200 : 503);
  });
  app.get("/metrics", async (c) =>
    c.text(await deps.metrics.registry.metrics(), 200, { "content-type": deps.metrics.registry.contentType }),
  );
  if (deps.experiments) app.route("/v1/experiments", deps.experiments);
  if (deps.writes) app.route("/v1", deps.writes);
  app.notFound((c) => notFoundResponse(c, deps.log));
  app.onError((err, c) => errorResponse(err, c, deps.log));
  return app;
}

export function httpServerPart(config: OriginConfig, log: Logger, app: Hono<OriginEnv>): Part & { port(): number } {
  let server: ServerType | null = null;
  let boundPort = config.port;
  return {
    name: "http",
    port: () => boundPort,
    start: () =>
      new Promise<void>((resolve, reject) => {
        server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => {
          boundPort = info.port;
          log.info({ host: config.host, port: info.port }, "origin listening");
          resolve();
        });
        server.once("error", reject);
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
      }),
    health: () => ({ ok: server?.listening ?? false }),
  };
}
