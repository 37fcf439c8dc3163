/**
 * GET /explore (+ /explore/app.js, /explore/app.css): the feed explorer page, a development
 * tool. Served only when EXPLORER_ENABLED is on (`npm run dev` sets it; production leaves it
 * off); otherwise every path here is the envelope's 404, as if it did not exist. Public (no
 * auth): the page holds no data, and its script calls the API with the token pasted into it.
 */
import { type Context, Hono } from "hono";
import { ApiError } from "#core/errors.ts";
import { DEFAULT_WEIGHTS } from "#core/ranking/score.ts";
import type { AppEnv } from "../env.ts";
import { EXPLORER_CSP, EXPLORER_CSS, EXPLORER_JS, explorerHtml } from "../explorer/page.ts";

const send = (c: Context<AppEnv>, body: string, type: string) => {
  c.header("Content-Type", `${type}; charset=utf-8`);
  c.header("Content-Security-Policy", EXPLORER_CSP);
  c.header("Cache-Control", "no-store");
  c.header("Referrer-Policy", "no-referrer");
  c.header("X-Frame-Options", "DENY");
  c.header("Cross-Origin-Opener-Policy", "same-origin");
  return c.body(body);
};

export const exploreRoutes = new Hono<AppEnv>()
  .use(async (c, next) => {
    if (!c.var.config.explorerEnabled) throw new ApiError("not_found", `no route for ${c.req.method} ${c.req.path}`);
    await next();
  })
  .get("/", (c) => send(c, explorerHtml(c.var.config.ranking.weights ?? DEFAULT_WEIGHTS), "text/html"))
  .get("/app.js", (c) => send(c, EXPLORER_JS, "text/javascript"))
  .get("/app.css", (c) => send(c, EXPLORER_CSS, "text/css"));
