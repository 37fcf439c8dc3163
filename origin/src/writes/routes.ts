/**
 * The origin's write API (/v1/...), reachable only with a request the edge signed. Each write is
 * one PostgreSQL transaction, idempotent where the verb is (PUT/DELETE), then the caches it made
 * stale are invalidated (the actor's feed; suggestions after a follow change; both feeds after
 * a block change). Debezium carries the change on to ClickHouse.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Redis } from "ioredis";
import type pg from "pg";
import type { Logger } from "pino";
import type { z } from "zod";
import {
  ApiError,
  feedKey,
  firstIssueError,
  hasSignatureHeaders,
  isUuid,
  newCommentSchema,
  newPostSchema,
  ORIGIN_REQUEST_TTL_S,
  originRequestKey,
  profileSchema,
  suggestKey,
  verifyRequest,
} from "../../../edge/core/index.ts";
import { invalidateKeys } from "../cache.ts";
import { errorResponse } from "../http-errors.ts";
import { inTransaction } from "./tx.ts";

/**
 * `requestId` is the edge's request id (the origin's HTTP server sets it, http.ts; mounted
 * alone, verifyEdge sets the signed one): for logs only.
 */
export type WriteEnv = { Variables: { userId: string; body: Uint8Array; requestId: string } };
type Vars = WriteEnv;

export interface WriteDeps {
  pg: pg.Pool;
  redis: Redis;
  sharedSecret: string;
  log: Logger;
}

/** Refuses anything the edge did not sign, and replays of a signed request. */
/** The largest write body the origin reads (the edge's own limit on writes is lower). */
const MAX_WRITE_BODY_BYTES = 64 * 1024;

function verifyEdge(deps: WriteDeps): MiddlewareHandler<Vars> {
  return async (c, next) => {
    // Unsigned requests go before their body is read (bodyLimit bounds the signed ones).
    if (!hasSignatureHeaders((n) => c.req.header(n))) {
      throw new ApiError("unauthorized", "request not signed by the edge: unsigned request");
    }
    const body = new Uint8Array(await c.req.arrayBuffer());
    const url = new URL(c.req.url);
    const result = await verifyRequest(
      deps.sharedSecret,
      { method: c.req.method, pathWithQuery: url.pathname + url.search, headers: (n) => c.req.header(n), body },
      Date.now(),
    );
    if (!result.ok) throw new ApiError("unauthorized", `request not signed by the edge: ${result.reason}`);
    // The edge only signs a token's UUID `sub`, lowercased; anything else (a misconfigured or
    // foreign signer) is the caller's error, not a database type error (500). The id is used as
    // signed, never normalised: an upper-case UUID is another text than the edge signs, refused.
    const userId = result.userId;
    if (!isUuid(userId)) throw new ApiError("bad_request", "signed user id must be a UUID");
    if (userId !== userId.toLowerCase())
      throw new ApiError("unauthorized", "request not signed by the edge: signed user id must be a lowercase UUID");
    // A signed request is good for one use within the signature window. The guard keys on the
    // signature, which covers time, path, user and body: the request id alone is the client's
    // to choose (the edge passes a sane X-Request-Id through), so two different writes with the
    // same id must both pass.
    const fresh = await deps.redis.set(originRequestKey(result.signature), "1", "EX", ORIGIN_REQUEST_TTL_S, "NX");
    if (fresh !== "OK") throw new ApiError("conflict", "replayed request");
    c.set("userId", userId);
    c.set("body", body);
    if (!c.get("requestId")) c.set("requestId", result.requestId);
    await next();
  };
}

/**
 * Parses the body from the bytes verifyEdge checked the signature of (not a second read of the
 * request, as hono's json validator would do), with the shared first-issue message.
 */
function parseBody<T extends z.ZodType>(schema: T, body: Uint8Array): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new ApiError("bad_request", "body must be JSON");
  }
  const r = schema.safeParse(json);
  if (!r.success) throw firstIssueError(r.error.issues, "body");
  return r.data;
}

function uuidParam(value: string | undefined, name: string): string {
  const v = (value ?? "").toLowerCase();
  if (!isUuid(v)) throw new ApiError("bad_request", `${name}: must be a UUID`);
  return v;
}

/** Maps PostgreSQL constraint errors to API errors. */
function mapPgError(err: unknown): never {
  const e = err as { code?: string; constraint?: string };
  if (e.code === "23505") throw new ApiError("conflict", `already exists (${e.constraint ?? "unique"})`);
  if (e.code === "23503") throw new ApiError("not_found", "a referenced user or post does not exist");
  if (e.code === "23514") throw new ApiError("bad_request", `not allowed (${e.constraint ?? "check"})`);
  if (e.code === "23502") throw new ApiError("not_found", "a referenced user or post does not exist");
  throw err;
}

const tx = <T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> =>
  inTransaction(pool, fn, mapPgError);

export function writeApp(deps: WriteDeps): Hono<Vars> {
  const app = new Hono<Vars>();
  // Bounded before anything else, chunked bodies too: nothing the edge forwards is larger.
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_WRITE_BODY_BYTES,
      onError: () => {
        throw new ApiError("payload_too_large", `request body over ${MAX_WRITE_BODY_BYTES} bytes`);
      },
    }),
  );
  app.use("*", verifyEdge(deps));

  const invalidate = async (c: Context<Vars>, keys: string[]) => {
    try {
      await invalidateKeys(deps.redis, keys);
    } catch (err) {
      // The write is committed; a stale cache heals by TTL (60 s). Say so.
      deps.log.warn({ request_id: c.get("requestId"), keys, err: (err as Error).message }, "cache invalidation failed");
    }
  };
  const requireProfile = async (client: pg.PoolClient, userId: string) => {
    const r = await client.query("SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL", [userId]);
    if (r.rowCount === 0) throw new ApiError("not_found", "create your profile first (PUT /api/v1/users/me)");
  };

  app.put("/users/me", async (c) => {
    const userId = c.get("userId");
    const p = parseBody(profileSchema, c.get("body"));
    const row = await tx(deps.pg, async (db) => {
      const r = await db.query(
        `INSERT INTO users (id, handle, display_name, bio) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET handle = EXCLUDED.handle,
           display_name = COALESCE($5, users.display_name), bio = COALESCE($6, users.bio), deleted_at = NULL
         RETURNING id, handle, display_name, bio, created_at, updated_at`,
        [userId, p.handle, p.display_name ?? "", p.bio ?? "", p.display_name ?? null, p.bio ?? null],
      );
      return r.rows[0];
    });
    return c.json({ user: row });
  });

  app.post("/posts", async (c) => {
    const userId = c.get("userId");
    const p = parseBody(newPostSchema, c.get("body"));
    const row = await tx(deps.pg, async (db) => {
      await requireProfile(db, userId);
      const r = await db.query(
        "INSERT INTO posts (author_id, text) VALUES ($1, $2) RETURNING id, author_id, text, created_at",
        [userId, p.text],
      );
      return r.rows[0];
    });
    await invalidate(c, [feedKey(userId)]);
    return c.json({ post: row }, 201);
  });

  app.delete("/posts/:id", async (c) => {
    const userId = c.get("userId");
    const id = uuidParam(c.req.param("id"), "id");
    await tx(deps.pg, async (db) => {
      const r = await db.query<{ author_id: string }>("SELECT author_id FROM posts WHERE id = $1", [id]);
      if (r.rowCount === 0) throw new ApiError("not_found", "no such post");
      if (r.rows[0]?.author_id !== userId) throw new ApiError("forbidden", "only the author can delete a post");
      await db.query("UPDATE posts SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL", [id]);
    });
    await invalidate(c, [feedKey(userId)]);
    return c.body(null, 204);
  });

  // PUT/DELETE on a relation: idempotent upsert / soft delete.
  const relation = (table: "follows" | "blocks" | "likes", cols: [string, string], target: "user" | "post") => {
    const path = table === "likes" ? "/posts/:id/like" : `/${table}/:user_id`;
    const paramName = table === "likes" ? "id" : "user_id";
    const extraKeys = (userId: string, other: string): string[] =>
      table === "follows" ? [suggestKey(userId)] : table === "blocks" ? [feedKey(other), suggestKey(userId)] : [];
    app.put(path, async (c) => {
      const userId = c.get("userId");
      const other = uuidParam(c.req.param(paramName), paramName);
      if (target === "user" && other === userId)
        throw new ApiError("bad_request", `you cannot ${table === "follows" ? "follow" : "block"} yourself`);
      await tx(deps.pg, async (db) => {
        await requireProfile(db, userId);
        const exists =
          target === "user"
            ? await db.query("SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL", [other])
            : await db.query("SELECT 1 FROM posts WHERE id = $1 AND deleted_at IS NULL", [other]);
        if (exists.rowCount === 0) throw new ApiError("not_found", `no such ${target}`);
        await db.query(
          `INSERT INTO ${table} (${cols[0]}, ${cols[1]}) VALUES ($1, $2)
           ON CONFLICT (${cols[0]}, ${cols[1]}) DO UPDATE SET deleted_at = NULL WHERE ${table}.deleted_at IS NOT NULL`,
          [userId, other],
        );
      });
      await invalidate(c, [feedKey(userId), ...extraKeys(userId, other)]);
      return c.body(null, 204);
    });
    app.delete(path, async (c) => {
      const userId = c.get("userId");
      const other = uuidParam(c.req.param(paramName), paramName);
      await tx(deps.pg, (db) =>
        db.query(
          `UPDATE ${table} SET deleted_at = now() WHERE ${cols[0]} = $1 AND ${cols[1]} = $2 AND deleted_at IS NULL`,
          [userId, other],
        ),
      );
      await invalidate(c, [feedKey(userId), ...extraKeys(userId, other)]);
      return c.body(null, 204);
    });
  };
  relation("follows", ["follower_id", "followee_id"], "user");
  relation("blocks", ["blocker_id", "blocked_id"], "user");
  relation("likes", ["user_id", "post_id"], "post");

  app.post("/posts/:id/comments", async (c) => {
    const userId = c.get("userId");
    const postId = uuidParam(c.req.param("id"), "id");
    const p = parseBody(newCommentSchema, c.get("body"));
    const row = await tx(deps.pg, async (db) => {
      await requireProfile(db, userId);
      const r = await db.query(
        `INSERT INTO comments (post_id, author_id, text)
         SELECT id, $2, $3 FROM posts WHERE id = $1 AND deleted_at IS NULL
         RETURNING id, post_id, author_id, text, created_at`,
        [postId, userId, p.text],
      );
      if (r.rowCount === 0) throw new ApiError("not_found", "no such post");
      return r.rows[0];
    });
    await invalidate(c, [feedKey(userId)]);
    return c.json({ comment: row }, 201);
  });

  app.delete("/comments/:id", async (c) => {
    const userId = c.get("userId");
    const id = uuidParam(c.req.param("id"), "id");
    await tx(deps.pg, async (db) => {
      const r = await db.query<{ author_id: string }>("SELECT author_id FROM comments WHERE id = $1", [id]);
      if (r.rowCount === 0) throw new ApiError("not_found", "no such comment");
      if (r.rows[0]?.author_id !== userId) throw new ApiError("forbidden", "only the author can delete a comment");
      await db.query("UPDATE comments SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL", [id]);
    });
    await invalidate(c, [feedKey(userId)]);
    return c.body(null, 204);
  });

  app.onError((err, c) => errorResponse(err, c, deps.log));
  return app;
}
