import { Hono } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { ApiError, type ErrorCode, errorBody, healthBody } from "../core/index.ts";
import type { AppEnv } from "./env.ts";
import { requestId, requestLog } from "./middleware.ts";
import { discoverRoutes } from "./routes/discover.ts";
import { eventsRoutes } from "./routes/events.ts";
import { feedRoutes } from "./routes/feed.ts";
import { writeRoutes } from "./routes/writes.ts";

/** Builds the edge Hono app. Errors of every kind leave through `onError` as one envelope. */
export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(requestId());
  app.use(requestLog());
  app.use(
    "/api/*",
    cors({
      origin: (origin, c) => {
        const allowed = (c.env as AppEnv["Bindings"]).CORS_ORIGINS ?? "*";
        if (allowed.trim() === "*") return "*";
        return allowed
          .split(",")
          .map((o) => o.trim())
          .includes(origin)
          ? origin
          : null;
      },
      allowHeaders: ["Authorization", "Content-Type", "X-Request-Id"],
      allowMethods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
      exposeHeaders: ["X-Cache", "Server-Timing", "X-Request-Id", "Retry-After"],
      maxAge: 600,
    }),
  );

  app.get("/healthz", (c) => c.json(healthBody("edge")));
  app.route("/api/v1/events", eventsRoutes);
  app.route("/api/v1/feed", feedRoutes);
  app.route("/api/v1", discoverRoutes);
  app.route("/api/v1", writeRoutes);

  app.notFound((c) => c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404));

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
      return c.json(errorBody(err.code, err.message, err.details), err.status as 400);
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      const code: ErrorCode =
        status === 401
          ? "unauthorized"
          : status === 413
            ? "payload_too_large"
            : status >= 500
              ? "internal"
              : "bad_request";
      return c.json(errorBody(code, err.message || "request rejected"), status);
    }
    c.get("logFields").error = String(err);
    return c.json(errorBody("internal", "internal error"), 500);
  });

  return app;
}
