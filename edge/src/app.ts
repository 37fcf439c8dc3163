import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { ApiError, errorBody, healthBody } from "../core/index.ts";
import type { AppEnv } from "./env.ts";

/** Builds the edge Hono app. Errors of every kind leave through `onError` as one envelope. */
export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/healthz", (c) => c.json(healthBody("edge")));

  app.notFound((c) => c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404));

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      return c.json(errorBody(err.code, err.message, err.details), err.status as 400);
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      const code = status === 401 ? "unauthorized" : status === 413 ? "payload_too_large" : "bad_request";
      return c.json(errorBody(code, err.message || "request rejected"), status);
    }
    console.error(JSON.stringify({ level: "error", msg: "unhandled", error: String(err) }));
    return c.json(errorBody("internal", "internal error"), 500);
  });

  return app;
}
