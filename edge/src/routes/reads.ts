/**
 * The read side's routes (thin: the service runs the core's plans): profiles, an author's
 * posts, followers and following, a post and its comments. Every route is authenticated and
 * counted against the "reads" rate limit; answers are private to the viewer.
 */
import type { Context } from "hono";
import { indexKeys } from "#core/keys.ts";
import { operations, type UserRef } from "../api/contract.ts";
import type { AppEnv } from "../env.ts";
import { requireUser } from "../middleware.ts";
import { routeLimit } from "../ratelimit.ts";
import {
  getComments,
  getFollowList,
  getPost,
  getProfile,
  getUserPosts,
  type ReadDeps,
  userIdOfHandle,
} from "../reads/service.ts";
import { upstashExec } from "../redis-exec.ts";
import { apiRouter } from "../validation.ts";

function depsOf(c: Context<AppEnv>): ReadDeps {
  c.header("Cache-Control", "private, no-store");
  return {
    exec: upstashExec(c.var.clients.rawRedis),
    clickhouse: c.var.clients.clickhouse,
    keys: indexKeys(c.var.config.index.namespace),
    viewerId: c.get("userId").toLowerCase(),
    now: () => Date.now(),
    log: c.get("logFields"),
  };
}

/** The user id a path names: the caller for `me`, the handle's owner for `@handle` (one round trip). */
async function userIdOf(deps: ReadDeps, ref: UserRef): Promise<string> {
  if (ref.kind === "me") return deps.viewerId;
  if (ref.kind === "handle") return userIdOfHandle(deps, ref.handle);
  return ref.id;
}

export const readRoutes = apiRouter()
  .openapi({ ...operations.getUser, middleware: [requireUser(), routeLimit("reads")] as const }, async (c) => {
    const deps = depsOf(c);
    return c.json(await getProfile(deps, await userIdOf(deps, c.req.valid("param").id)), 200);
  })
  .openapi({ ...operations.getUserPosts, middleware: [requireUser(), routeLimit("reads")] as const }, async (c) => {
    const deps = depsOf(c);
    const q = c.req.valid("query");
    const id = await userIdOf(deps, c.req.valid("param").id);
    return c.json(await getUserPosts(deps, id, q.cursor, q.limit), 200);
  })
  .openapi({ ...operations.getFollowers, middleware: [requireUser(), routeLimit("reads")] as const }, async (c) => {
    const deps = depsOf(c);
    const q = c.req.valid("query");
    const id = await userIdOf(deps, c.req.valid("param").id);
    return c.json(await getFollowList(deps, id, "followers", q.cursor, q.limit), 200);
  })
  .openapi({ ...operations.getFollowing, middleware: [requireUser(), routeLimit("reads")] as const }, async (c) => {
    const deps = depsOf(c);
    const q = c.req.valid("query");
    const id = await userIdOf(deps, c.req.valid("param").id);
    return c.json(await getFollowList(deps, id, "following", q.cursor, q.limit), 200);
  })
  .openapi({ ...operations.getPost, middleware: [requireUser(), routeLimit("reads")] as const }, async (c) => {
    const deps = depsOf(c);
    return c.json(await getPost(deps, c.req.valid("param").id.toLowerCase()), 200);
  })
  .openapi({ ...operations.getComments, middleware: [requireUser(), routeLimit("reads")] as const }, async (c) => {
    const deps = depsOf(c);
    const q = c.req.valid("query");
    return c.json(await getComments(deps, c.req.valid("param").id.toLowerCase(), q.order, q.cursor, q.limit), 200);
  });
