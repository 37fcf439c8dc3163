import { type Context, Hono } from "hono";
import { cors } from "hono/cors";
import { ApiError, healthBody } from "../core/index.ts";
import type { AppEnv } from "./env.ts";
import { errorResponse } from "./http-errors.ts";
import { appContext, requestId, requestLog } from "./middleware.ts";
import { discoverRoutes } from "./routes/discover.ts";
import { eventsRoutes } from "./routes/events.ts";
import { feedRoutes } from "./routes/feed.ts";
import { trendingRoutes } from "./routes/trending.ts";
import { writeRoutes } from "./routes/writes.ts";

/** Builds the edge Hono app. Errors of every kind leave through `onError` as one envelope. */
export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(requestId());
  app.use(requestLog());
  app.use(appContext());
  app.use(
    "/api/*",
    cors({
      origin: (origin, c) => {
        const allowed = (c as Context<AppEnv>).var.config.corsOrigins;
        if (allowed === "*") return "*";
        return allowed.includes(origin) ? origin : null;
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
  app.route("/api/v1/trending", trendingRoutes);
  app.route("/api/v1", discoverRoutes);
  app.route("/api/v1", writeRoutes);

  const logUnexpected = (c: Context<AppEnv>) => (e: unknown) => {
    c.get("logFields").error = String(e);
  };
  app.notFound((c) =>
    errorResponse(new ApiError("not_found", `no route for ${c.req.method} ${c.req.path}`), c, logUnexpected(c)),
  );
  app.onError((err, c) => errorResponse(err, c, logUnexpected(c)));

  return app;
}
