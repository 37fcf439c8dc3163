/**
 * The notifications routes (thin: the service runs the core's plans): a page of the caller's
 * notification groups, and marking them seen. Both are authenticated; the page counts against
 * the "reads" rate limit, marking seen against "writes". Answers are private to the caller.
 */
import { zValidator } from "@hono/zod-validator";
import type { Context } from "hono";
import { indexKeys, notificationKeys } from "#core/keys.ts";
import { type SeenBody, seenBodySchema, untilMs } from "#core/notifications/seen.ts";
import { rejectInvalid } from "#core/validation.ts";
import { operations } from "../api/contract.ts";
import type { AppEnv } from "../env.ts";
import { pushUnread } from "../live/unread.ts";
import { limitBody, requireUser } from "../middleware.ts";
import { getNotifications, markSeen, type NotificationDeps } from "../notifications/service.ts";
import { routeLimit } from "../ratelimit.ts";
import { upstashExec } from "../redis-exec.ts";
import { serverTiming } from "../timing.ts";
import { apiRouter, jsonBody } from "../validation.ts";

/** The seen body is tiny; anything near this is not one. */
const MAX_SEEN_BODY_BYTES = 1024;

function depsOf(c: Context<AppEnv>): NotificationDeps {
  c.header("Cache-Control", "private, no-store");
  const ns = c.var.config.index.namespace;
  return {
    exec: upstashExec(c.var.clients.rawRedis),
    keys: indexKeys(ns),
    notificationKeys: notificationKeys(ns),
    viewerId: c.get("userId").toLowerCase(),
    now: () => Date.now(),
    log: c.get("logFields"),
    timings: [],
  };
}

/** The body's checks, in this order: 413 over the limit, 415 not JSON, 400 malformed or not `{until}`. */
const seenBodyChecks = [
  limitBody(MAX_SEEN_BODY_BYTES),
  jsonBody('{"until": <epoch ms or ISO-8601>}'),
  zValidator("json", seenBodySchema, rejectInvalid),
] as const;

export const notificationRoutes = apiRouter()
  .openapi({ ...operations.getNotifications, middleware: [requireUser(), routeLimit("reads")] as const }, async (c) => {
    const t0 = performance.now();
    const q = c.req.valid("query");
    const deps = depsOf(c);
    const page = await getNotifications(deps, q.cursor, q.limit);
    c.header("Server-Timing", serverTiming(deps.timings, performance.now() - t0));
    return c.json(page, 200);
  })
  .openapi(
    {
      ...operations.markNotificationsSeen,
      middleware: [requireUser(), routeLimit("writes"), ...seenBodyChecks] as const,
    },
    async (c) => {
      const deps = depsOf(c);
      const body = c.req.valid("json" as never) as SeenBody;
      await markSeen(deps, untilMs(body, deps.now()));
      // The viewer's other devices hear of the new unread count (best effort, after the answer).
      const live = c.var.config.live;
      if (live) {
        const push = pushUnread(live, deps.exec, deps.notificationKeys, deps.viewerId, deps.now()).catch((err) => {
          console.log(JSON.stringify({ level: "warn", msg: "live unread push failed", error: String(err) }));
        });
        c.executionCtx.waitUntil(push);
      }
      return c.body(null, 204);
    },
  );
