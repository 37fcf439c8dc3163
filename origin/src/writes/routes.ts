/**
 * The origin's write API (/v1/...), reachable only with a request the edge signed. Each write is
 * one PostgreSQL transaction, idempotent where the verb is (PUT/DELETE), then what it made stale
 * is invalidated by name (#core/feed/invalidation.ts: the actor's feed version bumped; their
 * suggestions deleted after a follow change; both feeds after a block change). Debezium carries
 * the change on to ClickHouse and the serving index.
 *
 * Read your writes: with an index writer, each committed change is also applied to the serving
 * index at once (write-through), the same idempotent operation its CDC message applies ~1 s
 * later, so the writer's next read shows it. A write-through that fails or is slow is only
 * logged: the CDC message still brings it, and in-order replay makes the index converge.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type pg from "pg";
import type { Logger } from "pino";
import { hasSignatureHeaders, verifyRequest } from "#core/auth/origin-auth.ts";
import { ApiError } from "#core/errors.ts";
import { invalidationCommands } from "#core/feed/invalidation.ts";
import { ORIGIN_REQUEST_TTL_S, originRequestKey } from "#core/keys.ts";
import { isUuid } from "#core/uuid.ts";
import { newCommentSchema, newPostSchema, profileSchema } from "#core/writes.ts";
import { errorResponse } from "../http-errors.ts";
import { ioredisExec } from "../index/exec.ts";
import type { IndexOp } from "../index/ops.ts";
import type { IndexWriter } from "../index/writer.ts";
import { withTimeout } from "../readiness.ts";
import type { AnyRedis } from "../redis-cluster.ts";
import { jsonBody } from "./json-body.ts";
import { inTransaction } from "./tx.ts";

/**
 * `requestId` is the edge's request id (the origin's HTTP server sets it, http.ts; mounted
 * alone, verifyEdge sets the signed one): for logs only.
 */
export type WriteEnv = { Variables: { userId: string; requestId: string } };
type Vars = WriteEnv;

export interface WriteDeps {
  pg: pg.Pool;
  redis: AnyRedis;
  sharedSecret: string;
  log: Logger;
  /**
   * The live channel's publisher: told of a new post at commit, so online followers hear of it
   * without waiting for CDC (the updater's hook for the same post is then a no-op). Never blocks.
   */
  live?: { postCreated(authorId: string, postId: string, createdMs: number): void };
  /** The serving index's writer, for write-through (read your writes); none: CDC alone. */
  index?: IndexWriter;
}

/** How long a write-through may take before the write answers without it (CDC still brings it). */
export const WRITE_THROUGH_TIMEOUT_MS = 500;

const ms = (v: unknown): number => (v instanceof Date ? v.getTime() : Date.parse(String(v)));

/** The WAL position before a change, as a version below the change's own (its CDC message's LSN). */
const WAL_VERSION_SQL = "SELECT (pg_current_wal_insert_lsn() - '0/0')::text AS v";

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
    if (!c.get("requestId")) c.set("requestId", result.requestId);
    await next();
  };
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

  // A plain pipeline, not a MULTI: one key a command (edge/core/feed/invalidation.ts).
  const pipeline = ioredisExec(deps.redis);
  const invalidate = async (c: Context<Vars>, stale: { feeds: string[]; suggestions?: string[] }) => {
    try {
      await pipeline(invalidationCommands(stale));
    } catch (err) {
      // The write is committed; a stale cache heals by TTL (60 s). Say so.
      deps.log.warn(
        { request_id: c.get("requestId"), ...stale, err: (err as Error).message },
        "cache invalidation failed",
      );
    }
  };
  const through = async (c: Context<Vars>, ops: IndexOp[]) => {
    if (!deps.index || ops.length === 0) return;
    try {
      await withTimeout(deps.index.apply(ops), WRITE_THROUGH_TIMEOUT_MS, "index write-through");
    } catch (err) {
      deps.log.warn(
        { request_id: c.get("requestId"), ops: ops.length, err: (err as Error).message },
        "index write-through failed; CDC will apply the change",
      );
    }
  };
  const requireProfile = async (client: pg.PoolClient, userId: string) => {
    const r = await client.query("SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL", [userId]);
    if (r.rowCount === 0) throw new ApiError("not_found", "create your profile first (PUT /api/v1/users/me)");
  };

  app.put("/users/me", ...jsonBody(profileSchema), async (c) => {
    const userId = c.get("userId");
    const p = c.req.valid("json");
    const { row, version } = await tx(deps.pg, async (db) => {
      const v = await db.query<{ v: string }>(WAL_VERSION_SQL);
      const r = await db.query(
        `INSERT INTO users (id, handle, display_name, bio) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET handle = EXCLUDED.handle,
           display_name = COALESCE($5, users.display_name), bio = COALESCE($6, users.bio), deleted_at = NULL
         RETURNING id, handle, display_name, bio, created_at, updated_at`,
        [userId, p.handle, p.display_name ?? "", p.bio ?? "", p.display_name ?? null, p.bio ?? null],
      );
      return { row: r.rows[0], version: Number(v.rows[0]?.v ?? 0) };
    });
    await through(c, [
      {
        kind: "user",
        userId: row.id,
        deleted: false,
        handle: row.handle,
        displayName: row.display_name,
        bio: row.bio,
        createdMs: ms(row.created_at),
        version,
      },
    ]);
    return c.json({ user: row });
  });

  app.post("/posts", ...jsonBody(newPostSchema), async (c) => {
    const userId = c.get("userId");
    const p = c.req.valid("json");
    const row = await tx(deps.pg, async (db) => {
      await requireProfile(db, userId);
      const r = await db.query(
        "INSERT INTO posts (author_id, text) VALUES ($1, $2) RETURNING id, author_id, text, created_at",
        [userId, p.text],
      );
      return r.rows[0];
    });
    deps.live?.postCreated(row.author_id, row.id, ms(row.created_at));
    await through(c, [
      {
        kind: "post",
        postId: row.id,
        authorId: row.author_id,
        createdMs: ms(row.created_at),
        text: row.text,
        live: true,
      },
    ]);
    await invalidate(c, { feeds: [userId] });
    return c.json({ post: row }, 201);
  });

  app.delete("/posts/:id", async (c) => {
    const userId = c.get("userId");
    const id = uuidParam(c.req.param("id"), "id");
    const gone = await tx(deps.pg, async (db) => {
      const r = await db.query<{ author_id: string }>("SELECT author_id FROM posts WHERE id = $1", [id]);
      if (r.rowCount === 0) throw new ApiError("not_found", "no such post");
      if (r.rows[0]?.author_id !== userId) throw new ApiError("forbidden", "only the author can delete a post");
      const d = await db.query(
        "UPDATE posts SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id, author_id, text, created_at",
        [id],
      );
      return d.rows[0];
    });
    if (gone) {
      await through(c, [
        {
          kind: "post",
          postId: gone.id,
          authorId: gone.author_id,
          createdMs: ms(gone.created_at),
          text: gone.text,
          live: false,
        },
      ]);
    }
    await invalidate(c, { feeds: [userId] });
    return c.body(null, 204);
  });

  // PUT/DELETE on a relation: idempotent upsert / soft delete.
  const relation = (table: "follows" | "blocks" | "likes", cols: [string, string], target: "user" | "post") => {
    const path = table === "likes" ? "/posts/:id/like" : `/${table}/:user_id`;
    const paramName = table === "likes" ? "id" : "user_id";
    // A like changes the liker's feed; a follow also their suggestions; a block both users' feeds too.
    const stale = (userId: string, other: string) =>
      table === "follows"
        ? { feeds: [userId], suggestions: [userId] }
        : table === "blocks"
          ? { feeds: [userId, other], suggestions: [userId] }
          : { feeds: [userId] };
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
        const r = await db.query(
          `INSERT INTO ${table} (${cols[0]}, ${cols[1]}) VALUES ($1, $2)
           ON CONFLICT (${cols[0]}, ${cols[1]}) DO UPDATE SET deleted_at = NULL WHERE ${table}.deleted_at IS NOT NULL
           RETURNING *`,
          [userId, other],
        );
        return r.rows[0];
      }).then((row) => through(c, row ? [relationOp(table, row, true)] : []));
      await invalidate(c, stale(userId, other));
      return c.body(null, 204);
    });
    app.delete(path, async (c) => {
      const userId = c.get("userId");
      const other = uuidParam(c.req.param(paramName), paramName);
      const row = await tx(deps.pg, async (db) => {
        const r = await db.query(
          `UPDATE ${table} SET deleted_at = now() WHERE ${cols[0]} = $1 AND ${cols[1]} = $2 AND deleted_at IS NULL
           RETURNING *`,
          [userId, other],
        );
        return r.rows[0];
      });
      if (row) await through(c, [relationOp(table, row, false)]);
      await invalidate(c, stale(userId, other));
      return c.body(null, 204);
    });
  };
  relation("follows", ["follower_id", "followee_id"], "user");
  relation("blocks", ["blocker_id", "blocked_id"], "user");
  relation("likes", ["user_id", "post_id"], "post");

  app.post("/posts/:id/comments", ...jsonBody(newCommentSchema), async (c) => {
    const userId = c.get("userId");
    const postId = uuidParam(c.req.param("id"), "id");
    const p = c.req.valid("json");
    const row = await tx(deps.pg, async (db) => {
      await requireProfile(db, userId);
      const r = await db.query(
        `INSERT INTO comments (post_id, author_id, text)
         SELECT id, $2, $3 FROM posts WHERE id = $1 AND deleted_at IS NULL
         RETURNING id, post_id, author_id, post_author_id, text, created_at`,
        [postId, userId, p.text],
      );
      if (r.rowCount === 0) throw new ApiError("not_found", "no such post");
      return r.rows[0];
    });
    await through(c, [commentOp(row, true)]);
    await invalidate(c, { feeds: [userId] });
    const { post_author_id: _, ...comment } = row;
    return c.json({ comment }, 201);
  });

  app.delete("/comments/:id", async (c) => {
    const userId = c.get("userId");
    const id = uuidParam(c.req.param("id"), "id");
    const gone = await tx(deps.pg, async (db) => {
      const r = await db.query<{ author_id: string }>("SELECT author_id FROM comments WHERE id = $1", [id]);
      if (r.rowCount === 0) throw new ApiError("not_found", "no such comment");
      if (r.rows[0]?.author_id !== userId) throw new ApiError("forbidden", "only the author can delete a comment");
      const d = await db.query(
        `UPDATE comments SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL
         RETURNING id, post_id, author_id, post_author_id, text, created_at`,
        [id],
      );
      return d.rows[0];
    });
    if (gone) await through(c, [commentOp(gone, false)]);
    await invalidate(c, { feeds: [userId] });
    return c.body(null, 204);
  });

  app.onError((err, c) => errorResponse(err, c, deps.log));
  return app;
}

/** A committed follow, block or like as the index operation its CDC message becomes. */
function relationOp(table: "follows" | "blocks" | "likes", row: Record<string, unknown>, live: boolean): IndexOp {
  const id = (k: string) => String(row[k]);
  if (table === "follows") {
    return {
      kind: "follow",
      followerId: id("follower_id"),
      followeeId: id("followee_id"),
      live,
      createdMs: ms(row.created_at),
    };
  }
  if (table === "blocks") return { kind: "block", blockerId: id("blocker_id"), blockedId: id("blocked_id"), live };
  return {
    kind: "interaction",
    field: `l:${id("user_id")}`,
    counter: "l",
    postId: id("post_id"),
    actorId: id("user_id"),
    authorId: id("post_author_id"),
    live,
    createdMs: ms(row.created_at),
    text: "",
  };
}

/** A committed comment as the index operation its CDC message becomes. */
function commentOp(row: Record<string, unknown>, live: boolean): IndexOp {
  return {
    kind: "interaction",
    field: `c:${String(row.id)}`,
    counter: "c",
    postId: String(row.post_id),
    actorId: String(row.author_id),
    authorId: String(row.post_author_id),
    live,
    createdMs: ms(row.created_at),
    text: String(row.text),
  };
}
