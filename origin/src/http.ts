/** The origin's HTTP server as a lifecycle part. */
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import type { Logger } from "pino";
import { errorBody, healthBody } from "../../edge/core/index.ts";
import type { OriginConfig } from "./config.ts";
import type { Part } from "./lifecycle.ts";

export function createOriginApp(): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.json(healthBody("origin")));
  app.notFound((c) => c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404));
  app.onError((_err, c) => c.json(errorBody("internal", "internal error"), 500));
  return app;
}

export function httpServerPart(config: OriginConfig, log: Logger, app = createOriginApp()): Part & { port(): number } {
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
