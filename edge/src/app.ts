import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { cors } from "hono/cors";
import { ApiError } from "#core/errors.ts";
import { healthBody } from "#core/health.ts";
import { operations } from "./api/contract.ts";
import { openApiDocument, registerComponents } from "./api/document.ts";
import type { AppEnv } from "./env.ts";
import { errorResponse } from "./http-errors.ts";
import { appContext, knownMethods, requestId, requestLog, securityHeaders, settleRequestBody } from "./middleware.ts";
import { discoverRoutes } from "./routes/discover.ts";
import { docsRoutes } from "./routes/docs.ts";
import { eventsRoutes } from "./routes/events.ts";
import { exploreRoutes } from "./routes/explore.ts";
import { feedRoutes } from "./routes/feed.ts";
import { livePublishRoutes, liveRoutes } from "./routes/live.ts";
import { notificationRoutes } from "./routes/notifications.ts";
import { readRoutes } from "./routes/reads.ts";
import { statsRoutes } from "./routes/stats.ts";
import { trendingRoutes } from "./routes/trending.ts";
import { writeRoutes } from "./routes/writes.ts";
import { apiRouter } from "./validation.ts";

/**
 * Builds the edge Hono app. Errors of every kind leave through `onError` as one envelope. Its
 * public operations are OpenAPI routes (edge/src/api/contract.ts): `openApiDocument(app)` is
 * the document GET /openapi.json serves and edge/openapi.json holds.
 */
export function createApp(): OpenAPIHono<AppEnv> {
  const app = apiRouter();
  app.use(securityHeaders());
  app.use(requestId());
  app.use(requestLog());
  app.use(settleRequestBody());
  app.use(knownMethods());
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

  app.openapi(operations.getHealth, (c) => c.json(healthBody("edge"), 200));
  // The routers carry their operations' full paths (the contract's).
  app.route("/", eventsRoutes);
  app.route("/", feedRoutes);
  app.route("/", trendingRoutes);
  app.route("/", discoverRoutes);
  app.route("/", statsRoutes);
  app.route("/", readRoutes);
  app.route("/", notificationRoutes);
  app.route("/", liveRoutes);
  app.route("/", livePublishRoutes);
  app.route("/", writeRoutes);
  app.route(
    "/",
    docsRoutes(() => openApiDocument(app)),
  );
  app.route("/explore", exploreRoutes);
  registerComponents(app);

  const logUnexpected = (c: Context<AppEnv>) => (e: unknown) => {
    c.get("logFields").error = String(e);
  };
  // A path that exists under other methods is a 405 naming them (Allow), else a 404.
  let routeTable: { re: RegExp; method: string }[] | null = null;
  const allowedMethods = (path: string): string[] => {
    routeTable ??= app.routes
      .filter((r) => r.method !== "ALL")
      .map((r) => ({ re: new RegExp(`^${r.path.replace(/:\w+/g, "[^/]+")}/?$`), method: r.method }));
    const methods = new Set(routeTable.filter((r) => r.re.test(path)).map((r) => r.method));
    if (methods.has("GET")) methods.add("HEAD");
    if (methods.size && path.startsWith("/api/")) methods.add("OPTIONS");
    return [...methods].sort();
  };
  app.notFound((c) => {
    const allowed = allowedMethods(c.req.path);
    const err = allowed.length
      ? new ApiError("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}`, undefined, {
          headers: { Allow: allowed.join(", ") },
        })
      : new ApiError("not_found", `no route for ${c.req.method} ${c.req.path}`);
    return errorResponse(err, c, logUnexpected(c));
  });
  app.onError((err, c) => errorResponse(err, c, logUnexpected(c)));

  return app;
}
