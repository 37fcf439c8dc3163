/**
 * The benchmark's baseline: "the service a team would otherwise write" — a plain Node HTTP
 * service over PostgreSQL only (no Redis, no ClickHouse, no cache), behind the same HTTP
 * contract as the edge (paths, auth, response shapes, error envelope), so one load generator
 * drives both. It does the product's work (architecture "Ranking"): the same sources, limits,
 * windows, filters, counting rule (never a user's own likes, comments or events on their own
 * post, in engagement or affinity), affinity and formula, ranked by the product's own pure code
 * (rankFeed / rankHotPosts from edge/core, as a team reusing the library would, so the diversity
 * pass and the lift of a followee's new post into the first 50 are the product's); PostgreSQL
 * does candidate generation and features, and keeps the event-derived state itself.
 *
 *   GET  /api/v1/feed?limit=20                       one SQL query (F1 + F2 + F3 candidates with
 *                                                    features and flags), then rankFeed
 *   GET  /api/v1/discover/suggested-users?limit=20   friends of friends, one SQL query
 *   GET  /api/v1/users/{id|me|@handle}               the profile, its counts and the viewer's
 *                                                    relation, one query (+ one for a handle)
 *   GET  /api/v1/users/{id}/posts                    newest first, keyset on (created_at, id):
 *                                                    the page's ids, then posts-hydrate.sql
 *   GET  /api/v1/users/{id}/followers, /following    newest follow first, keyset, one query
 *   GET  /api/v1/posts/{id}                          posts-hydrate.sql for one id
 *   GET  /api/v1/posts/{id}/comments                 oldest (or newest) first, keyset, one query
 *   POST /api/v1/events                              one statement: events + counters + affinity
 *                                                    + seen, in one transaction
 *   GET  /healthz                                    {ok: true}, no auth
 * Trending: a materialized view refreshed CONCURRENTLY every 60 s by the service's own timer,
 * ranked into the hot list (F2) after each refresh.
 *
 * The reads follow the edge's rules (docs/api.md "Reads"): a user the viewer blocks or is blocked
 * by, a deleted or an unknown user, and their posts and threads are the same 404; lists leave
 * them out; a post's counts are plain totals (every live like and comment, the author's own
 * included) and its counted shares (bench_post_counters). Feed items are hydrated the same way
 * (author card, counts, the viewer's like and follow). List cursors are the product's own
 * (edge/core/reads/cursor.ts: bound to their list, a foreign or tampered one is a 400) holding
 * the last row's created_at in epoch µs (PostgreSQL's precision) and id.
 *
 * Library: `startBaseline({ databaseUrl, jwtSecret, port: 0 })`; after a bulk load,
 * `prepareBaselineData(pool, ch)` fills the event tables from ClickHouse's events_raw. CLI:
 * `tsx scripts/bench/baseline.ts` with DATABASE_URL, JWT_SECRET (default: as `npm run token`
 * signs, i.e. .dev.vars, else .dev.vars.example) and BASELINE_PORT (default 8790).
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import type { ClickHouseClient } from "@clickhouse/client";
import { createAdaptorServer } from "@hono/node-server";
import { zValidator } from "@hono/zod-validator";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { jwtVerify } from "jose";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { z } from "zod";
import { authenticateUser, userTokenChecks } from "#core/auth/user-token.ts";
import { ApiError, errorAnswer } from "#core/errors.ts";
import { acceptEvents, eventsEnvelopeSchema, MAX_EVENTS_BODY_BYTES } from "#core/events/schema.ts";
import { rankHotPosts } from "#core/feed/hot-posts.ts";
import { type CandidateRowLike, candidatesFromQuery } from "#core/feed/rows.ts";
import { rankFeed } from "#core/ranking/rank.ts";
import {
  decodeListCursor,
  encodeListCursor,
  type ListCursor,
  ListCursorError,
  type ListKind,
} from "#core/reads/cursor.ts";
import type { CommentOut, ListedUser, PostOut, ProfileOut } from "#core/reads/shapes.ts";
import { FEED_QUERY_LIMITS } from "#core/sql/queries.ts";
import { UUID_RE, uuidSchema } from "#core/uuid.ts";
import { rejectInvalid } from "#core/validation.ts";
import { readDevVar } from "../token.ts";

export interface BaselineOptions {
  databaseUrl: string;
  /** HS256 key user tokens are verified with (at least 32 characters, as at the edge). */
  jwtSecret: string;
  /** 0 = any free port. Default 0. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** PostgreSQL connections. Default 8. */
  poolSize?: number;
  /**
   * The clock the feed's 72 h window, 90 d affinity window and freshness are computed against
   * (epoch ms), bound as a query parameter. Default Date.now; tests pin it to check scores exactly.
   */
  now?: () => number;
  /**
   * Period of the materialized-view refresh (trending pool, popular authors) and of the hot
   * list ranked from it. Default BASELINE_TRENDING_REFRESH_MS (60 s, as the product's hot-posts
   * generator). The first refresh runs before the server listens.
   */
  trendingRefreshMs?: number;
}

export interface BaselineServer {
  url: string;
  /** Refreshes the materialized views now and re-ranks the hot list (what the timer does). */
  refreshTrending(): Promise<void>;
  close(): Promise<void>;
}

/** Default port of the CLI. */
export const BASELINE_DEFAULT_PORT = 8790;

/**
 * One of the baseline's SQL files (scripts/bench/baseline/: a query, or a part of the schema),
 * without its leading comment: that is its documentation.
 */
function sql(name: string): string {
  return readFileSync(join(import.meta.dirname, "baseline", `${name}.sql`), "utf8").replace(/^(?:--.*\n)+/, "");
}

/** The feed's candidates and features in ONE PostgreSQL query (baseline/feed.sql). */
export const BASELINE_FEED_SQL = sql("feed");
const SUGGESTED_USERS_SQL = sql("suggested-users");
const EVENTS_INSERT_SQL = sql("events-insert");

/** A SQL text with its `{{name}}` placeholders filled (identifiers and keywords, never values). */
function render(text: string, parts: Record<string, string>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    const v = parts[k];
    if (v === undefined) throw new Error(`baseline SQL: no value for {{${k}}}`);
    return v;
  });
}

/** The read side's queries (baseline/*.sql), each one round trip. */
export const BASELINE_READS_SQL = {
  profile: sql("user-profile"),
  userByHandle: sql("user-by-handle"),
  userPosts: sql("user-posts"),
  hydrate: sql("posts-hydrate"),
  followers: render(sql("follow-list"), { owner: "followee_id", listed: "follower_id" }),
  following: render(sql("follow-list"), { owner: "follower_id", listed: "followee_id" }),
  commentsOldest: render(sql("comments"), { cmp: ">", dir: "ASC" }),
  commentsNewest: render(sql("comments"), { cmp: "<", dir: "DESC" }),
} as const;

/**
 * The trending pool's definition version, kept as the view's comment: a database holding a pool
 * of another version (an older baseline's, which counted the author's own likes and comments)
 * gets it dropped and rebuilt by ensureBaselineSchema.
 */
export const BASELINE_TRENDING_VIEW_VERSION = "bench_trending_pool v2: no own likes or comments";

/** The baseline's schema (baseline/schema.sql, trending-pool.sql, popular-authors.sql), idempotent. */
const SCHEMA_SQL = [
  sql("schema"),
  sql("trending-pool"),
  `COMMENT ON MATERIALIZED VIEW bench_trending_pool IS '${BASELINE_TRENDING_VIEW_VERSION}'`,
  sql("popular-authors"),
];

/** How often the service refreshes its materialized views (the product's hot list: 60 s). */
export const BASELINE_TRENDING_REFRESH_MS = 60_000;

const SCHEMA_LOCK_KEY = 7_302_811_790; // arbitrary, fixed: "bench baseline schema"

type Env = { Variables: { userId: string } };

const feedQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }).strict();
const suggestQuery = z.object({ limit: z.coerce.number().int().min(1).max(50).default(20) }).strict();

// The read side's parameters, as the edge's contract validates them (edge/src/api/contract.ts).
const pageLimit = z
  .string("must be one whole number")
  .regex(/^(0|[1-9][0-9]{0,8})$/, "must be a whole number in plain decimal digits")
  .transform(Number)
  .pipe(z.number().int().min(1).max(100))
  .default(20);
type UserRef = { kind: "me" } | { kind: "handle"; handle: string } | { kind: "id"; id: string };
const userRefParams = z.object({
  id: z
    .string()
    .max(40)
    .transform((raw, ctx): UserRef => {
      if (raw === "me") return { kind: "me" };
      if (/^@[A-Za-z0-9_]{1,32}$/.test(raw)) return { kind: "handle", handle: raw.slice(1).toLowerCase() };
      if (UUID_RE.test(raw)) return { kind: "id", id: raw.toLowerCase() };
      ctx.addIssue({ code: "custom", message: "must be a UUID, `me` or `@handle`" });
      return z.NEVER;
    }),
});
const postParams = z.object({ id: uuidSchema });
const listCursorParam = z.string().max(300).optional();
const listQuery = z.object({ limit: pageLimit, cursor: listCursorParam }).strict();
const commentsQuery = z
  .object({ limit: pageLimit, cursor: listCursorParam, order: z.enum(["oldest", "newest"]).default("oldest") })
  .strict();

/**
 * Bearer JWT as the edge checks it (edge/core/auth/user-token.ts: header, claims, `sub` a user
 * UUID), verified with the edge's HS256 secret.
 */
function requireUser(jwtSecret: string): MiddlewareHandler<Env> {
  const key = new TextEncoder().encode(jwtSecret);
  const checks = { algorithms: ["HS256"], ...userTokenChecks() };
  const verify = async (token: string) => (await jwtVerify(token, key, checks)).payload;
  return async (c, next) => {
    c.set("userId", await authenticateUser(c.req.header("authorization"), verify));
    await next();
  };
}

/** Any error as the edge answers it: the one envelope (edge/core/errors.ts). */
function answerError(err: unknown, c: Context<Env>): Response {
  const answer = errorAnswer(err);
  if (answer.unexpected) console.error(`[baseline] ${c.req.method} ${c.req.path}: ${String(err)}`);
  return c.json(answer.body, answer.status as ContentfulStatusCode, answer.headers);
}

/** A row of BASELINE_FEED_SQL: the product's candidate row plus whether the viewer saw the post. */
interface FeedRow extends CandidateRowLike {
  seen: boolean;
}

/** BASELINE_FEED_SQL's rows → the product's ranking input: the product's own row mapping, seen posts flagged per row. */
export function baselineCandidates(rows: readonly FeedRow[]): ReturnType<typeof candidatesFromQuery> {
  return candidatesFromQuery(
    [...rows],
    rows.filter((r) => r.seen).map((r) => r.post_id),
  );
}

/** The hot list the feed's F2 reads: post ids in rank order, replaced after each refresh. */
interface TrendingState {
  ids: string[];
}

/**
 * Refreshes both materialized views (CONCURRENTLY: readers are never blocked) and ranks the
 * trending pool into the hot list with the product's rankHotPosts.
 */
async function refreshTrending(pool: pg.Pool, state: TrendingState, nowMs: number): Promise<void> {
  await pool.query("REFRESH MATERIALIZED VIEW CONCURRENTLY bench_trending_pool");
  await pool.query("REFRESH MATERIALIZED VIEW CONCURRENTLY bench_popular_authors");
  // Shaped as the product's candidate rows: all trending (src 2), no viewer (no affinity, no block).
  const { rows } = await pool.query<CandidateRowLike>(
    `SELECT post_id::text, author_id::text, text, floor(extract(epoch FROM created_at) * 1000)::float8 AS created_at_ms,
            2 AS src, likes, comments, shares, impressions, 0 AS affinity, false AS author_blocked, author_deleted
     FROM bench_trending_pool`,
  );
  const hot = rankHotPosts(rows, nowMs);
  state.ids = hot.map((h) => h.postId);
}

/** PostgreSQL errors worth one more try: a deadlock or a serialization failure. */
const RETRYABLE = new Set(["40P01", "40001"]);

async function withRetry<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !RETRYABLE.has((err as { code?: string }).code ?? "")) throw err;
    }
  }
}

const notFound = (what: string) => new ApiError("not_found", `${what} not found`);

/** A list cursor of this list, or null; a malformed, tampered or another list's cursor is a 400. */
function listCursor(raw: string | undefined, kind: ListKind, owner: string): ListCursor | null {
  if (raw === undefined) return null;
  try {
    return decodeListCursor(raw, kind, owner);
  } catch (err) {
    if (err instanceof ListCursorError) throw new ApiError("bad_request", `cursor: ${err.message}`);
    throw err;
  }
}

/** The next cursor of a page read with `limit + 1` rows: the last served row's position, if more follow. */
function nextCursor(
  rows: readonly { at_us: string; id: string }[],
  limit: number,
  kind: ListKind,
  owner: string,
): string | null {
  const last = rows[limit - 1];
  if (rows.length <= limit || !last) return null;
  return encodeListCursor({ kind, owner, score: Number(last.at_us), id: last.id });
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A row of posts-hydrate.sql. */
interface HydratedRow {
  post_id: string;
  author_id: string;
  handle: string;
  display_name: string;
  text: string;
  created_at_ms: number;
  likes: number;
  comments: number;
  shares: number;
  liked: boolean;
  following_author: boolean;
}

/** The posts the viewer may see among `ids`, hydrated (posts-hydrate.sql), by id. */
async function hydratePosts(pool: pg.Pool, viewerId: string, ids: readonly string[]): Promise<Map<string, PostOut>> {
  if (!ids.length) return new Map();
  const { rows } = await pool.query<HydratedRow>(BASELINE_READS_SQL.hydrate, [viewerId, ids]);
  return new Map(
    rows.map((r) => [
      r.post_id,
      {
        post_id: r.post_id,
        author_id: r.author_id,
        author: { id: r.author_id, handle: r.handle, display_name: r.display_name },
        created_at: iso(r.created_at_ms),
        text: r.text,
        counts: { likes: r.likes, comments: r.comments, shares: r.shares },
        viewer: { liked: r.liked, following_author: r.following_author },
      },
    ]),
  );
}

/** The user a read path names: the viewer for `me`, the live owner of a handle, or the id. */
async function userIdOf(pool: pg.Pool, viewerId: string, ref: UserRef): Promise<string> {
  if (ref.kind === "me") return viewerId;
  if (ref.kind === "id") return ref.id;
  const { rows } = await pool.query<{ id: string }>(BASELINE_READS_SQL.userByHandle, [ref.handle]);
  const id = rows[0]?.id;
  if (!id) throw notFound("user");
  return id;
}

/** A page's keyset parameters: [created_at µs, id] of the cursor, or nulls for the first page. */
const keyset = (c: ListCursor | null): [number | null, string | null] => (c ? [c.score, c.id] : [null, null]);

function createBaselineApp(pool: pg.Pool, jwtSecret: string, now: () => number, trending: TrendingState): Hono<Env> {
  const app = new Hono<Env>();
  const auth = requireUser(jwtSecret);

  app.get("/healthz", (c) => c.json({ ok: true }));

  app.get("/api/v1/feed", auth, zValidator("query", feedQuery, rejectInvalid), async (c) => {
    const { limit } = c.req.valid("query");
    const viewerId = c.get("userId");
    const nowMs = now();
    const L = FEED_QUERY_LIMITS;
    const { rows } = await pool.query<FeedRow>(BASELINE_FEED_SQL, [
      viewerId,
      new Date(nowMs),
      L.f1_limit,
      L.f2_limit,
      L.f3_limit,
      L.affinity_authors,
      trending.ids,
    ]);
    const cands = baselineCandidates(rows);
    const ranked = rankFeed(
      cands.bySource,
      { viewerId, blockedAuthorIds: cands.blockedAuthorIds, seenPostIds: cands.seenPostIds },
      nowMs,
    );
    // The page hydrated as the edge's (author card, plain totals, counted shares, the viewer's
    // like and follow): one more query for the page's posts.
    const page = ranked.slice(0, limit);
    const hydrated = await hydratePosts(
      pool,
      viewerId,
      page.map((r) => r.postId),
    );
    c.header("Cache-Control", "private, no-store");
    return c.json({
      items: page.flatMap((r) => {
        const h = hydrated.get(r.postId);
        if (!h) return [];
        return [
          {
            post_id: r.postId,
            author_id: r.authorId,
            author: h.author,
            created_at: new Date(r.createdAtMs).toISOString(),
            text: r.text,
            counts: h.counts,
            viewer: h.viewer,
            source: r.source,
            score: r.score,
          },
        ];
      }),
      next_cursor: null,
      experiment: null,
    });
  });

  // ---- the read side
  app.get("/api/v1/users/:id", auth, zValidator("param", userRefParams, rejectInvalid), async (c) => {
    const viewerId = c.get("userId").toLowerCase();
    const userId = await userIdOf(pool, viewerId, c.req.valid("param").id);
    const { rows } = await pool.query<{
      id: string;
      handle: string;
      display_name: string;
      bio: string;
      created_at_ms: number;
      followers: number;
      following: number;
      posts: number;
      viewer_follows: boolean;
      follows_viewer: boolean;
    }>(BASELINE_READS_SQL.profile, [viewerId, userId]);
    const u = rows[0];
    if (!u) throw notFound("user");
    const self = u.id === viewerId;
    c.header("Cache-Control", "private, no-store");
    return c.json({
      id: u.id,
      handle: u.handle,
      display_name: u.display_name,
      bio: u.bio,
      created_at: iso(u.created_at_ms),
      counts: { followers: u.followers, following: u.following, posts: u.posts },
      viewer: {
        following: !self && u.viewer_follows,
        followed_by: !self && u.follows_viewer,
        blocking: false, // a user the viewer blocks is a 404
      },
    } satisfies ProfileOut);
  });

  app.get(
    "/api/v1/users/:id/posts",
    auth,
    zValidator("param", userRefParams, rejectInvalid),
    zValidator("query", listQuery, rejectInvalid),
    async (c) => {
      const viewerId = c.get("userId").toLowerCase();
      const { limit, cursor: raw } = c.req.valid("query");
      const authorId = await userIdOf(pool, viewerId, c.req.valid("param").id);
      const cursor = listCursor(raw, "posts", authorId);
      const { rows } = await pool.query<{ author: string; post_id: string | null; at_us: string | null }>(
        BASELINE_READS_SQL.userPosts,
        [viewerId, authorId, ...keyset(cursor), limit + 1],
      );
      if (!rows.length) throw notFound("user");
      const entries = rows
        .filter((r): r is { author: string; post_id: string; at_us: string } => r.post_id !== null)
        .map((r) => ({ id: r.post_id, at_us: r.at_us }));
      const ids = entries.slice(0, limit).map((e) => e.id);
      const hydrated = await hydratePosts(pool, viewerId, ids);
      c.header("Cache-Control", "private, no-store");
      return c.json({
        items: ids.flatMap((id) => {
          const p = hydrated.get(id);
          return p ? [p] : [];
        }),
        next_cursor: nextCursor(entries, limit, "posts", authorId),
      });
    },
  );

  for (const kind of ["followers", "following"] as const) {
    app.get(
      `/api/v1/users/:id/${kind}`,
      auth,
      zValidator("param", userRefParams, rejectInvalid),
      zValidator("query", listQuery, rejectInvalid),
      async (c) => {
        const viewerId = c.get("userId").toLowerCase();
        const { limit, cursor: raw } = c.req.valid("query");
        const userId = await userIdOf(pool, viewerId, c.req.valid("param").id);
        const cursor = listCursor(raw, kind, userId);
        const { rows } = await pool.query<{
          owner: string;
          id: string | null;
          handle: string;
          display_name: string;
          at_us: string;
          following: boolean;
          followed_by: boolean;
        }>(BASELINE_READS_SQL[kind], [viewerId, userId, ...keyset(cursor), limit + 1]);
        if (!rows.length) throw notFound("user");
        const entries = rows.filter((r) => r.id !== null) as ((typeof rows)[number] & { id: string })[];
        c.header("Cache-Control", "private, no-store");
        return c.json({
          items: entries.slice(0, limit).map(
            (r): ListedUser => ({
              id: r.id,
              handle: r.handle,
              display_name: r.display_name,
              viewer: { following: r.following, followed_by: r.followed_by },
            }),
          ),
          next_cursor: nextCursor(entries, limit, kind, userId),
        });
      },
    );
  }

  app.get("/api/v1/posts/:id", auth, zValidator("param", postParams, rejectInvalid), async (c) => {
    const viewerId = c.get("userId").toLowerCase();
    const postId = c.req.valid("param").id.toLowerCase();
    const post = (await hydratePosts(pool, viewerId, [postId])).get(postId);
    if (!post) throw notFound("post");
    c.header("Cache-Control", "private, no-store");
    return c.json(post);
  });

  app.get(
    "/api/v1/posts/:id/comments",
    auth,
    zValidator("param", postParams, rejectInvalid),
    zValidator("query", commentsQuery, rejectInvalid),
    async (c) => {
      const viewerId = c.get("userId").toLowerCase();
      const postId = c.req.valid("param").id.toLowerCase();
      const { limit, cursor: raw, order } = c.req.valid("query");
      const kind: ListKind = order === "newest" ? "comments-newest" : "comments";
      const cursor = listCursor(raw, kind, postId);
      const { rows } = await pool.query<{
        post: string;
        comment_id: string | null;
        author_id: string;
        handle: string;
        display_name: string;
        text: string;
        created_at_ms: number;
        at_us: string;
      }>(order === "newest" ? BASELINE_READS_SQL.commentsNewest : BASELINE_READS_SQL.commentsOldest, [
        viewerId,
        postId,
        ...keyset(cursor),
        limit + 1,
      ]);
      if (!rows.length) throw notFound("post");
      const entries = rows.filter((r) => r.comment_id !== null).map((r) => ({ ...r, id: r.comment_id as string }));
      c.header("Cache-Control", "private, no-store");
      return c.json({
        items: entries.slice(0, limit).map(
          (r): CommentOut => ({
            comment_id: r.id,
            post_id: postId,
            author: { id: r.author_id, handle: r.handle, display_name: r.display_name },
            created_at: iso(r.created_at_ms),
            text: r.text,
          }),
        ),
        next_cursor: nextCursor(entries, limit, kind, postId),
      });
    },
  );

  app.get("/api/v1/discover/suggested-users", auth, zValidator("query", suggestQuery, rejectInvalid), async (c) => {
    const { limit } = c.req.valid("query");
    const { rows } = await pool.query<{ user_id: string; score: number; reason: "followed_by_your_follows" }>(
      SUGGESTED_USERS_SQL,
      [c.get("userId"), limit],
    );
    return c.json({ users: rows.map((r) => ({ user_id: r.user_id, score: r.score, reason: r.reason })) });
  });

  app.post(
    "/api/v1/events",
    auth,
    bodyLimit({
      maxSize: MAX_EVENTS_BODY_BYTES,
      onError: () => {
        throw new ApiError("payload_too_large", `request body exceeds ${MAX_EVENTS_BODY_BYTES} bytes`);
      },
    }),
    zValidator("json", eventsEnvelopeSchema, rejectInvalid),
    async (c) => {
      const { events } = c.req.valid("json");
      const { records, rejected } = acceptEvents(events, c.get("userId"), now(), () => randomUUID());
      if (records.length === 0) throw new ApiError("bad_request", "no valid events", rejected);
      const params = [
        c.get("userId"),
        records.map((r) => r.event_id),
        records.map((r) => r.post_id),
        records.map((r) => r.type),
        records.map((r) => r.dwell_ms),
        records.map((r) => new Date(r.client_ts).toISOString()),
        new Date(records[0]?.received_at ?? now()).toISOString(),
      ];
      await withRetry(() => pool.query(EVENTS_INSERT_SQL, params));
      return c.json({ accepted: records.length, rejected }, 202);
    },
  );

  app.notFound((c) => answerError(new ApiError("not_found", `no route for ${c.req.method} ${c.req.path}`), c));
  app.onError(answerError);

  return app;
}

/**
 * Creates the baseline's schema (tables, indexes, materialized views) if missing, and replaces a
 * trending pool of another definition version.
 */
export async function ensureBaselineSchema(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK_KEY]);
    const { rows } = await client.query<{ version: string | null }>(
      "SELECT obj_description(to_regclass('bench_trending_pool'), 'pg_class') AS version",
    );
    if (rows[0]?.version !== BASELINE_TRENDING_VIEW_VERSION)
      await client.query("DROP MATERIALIZED VIEW IF EXISTS bench_trending_pool");
    for (const statements of SCHEMA_SQL) await client.query(statements);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Creates the pool and the baseline's schema, refreshes the materialized views and ranks the
 * hot list once, then listens and refreshes every `trendingRefreshMs`; `close()` stops all.
 */
export async function startBaseline(opts: BaselineOptions): Promise<BaselineServer> {
  if (!opts.jwtSecret || opts.jwtSecret.length < 32) {
    throw new Error("baseline: jwtSecret must be at least 32 characters (as the edge requires)");
  }
  const host = opts.host ?? "127.0.0.1";
  const now = opts.now ?? Date.now;
  const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 8 });
  // An idle client's connection error must not crash the process; the next query reports it.
  pool.on("error", (err) => console.error(`[baseline] idle PostgreSQL client: ${err.message}`));
  const trending: TrendingState = { ids: [] };
  let refreshing: Promise<void> | null = null;
  /** One refresh at a time; a call during a refresh waits for it and then runs its own. */
  const refresh = async (): Promise<void> => {
    while (refreshing) await refreshing.catch(() => {});
    refreshing = refreshTrending(pool, trending, now());
    try {
      await refreshing;
    } finally {
      refreshing = null;
    }
  };
  try {
    await ensureBaselineSchema(pool);
    await refresh();
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }

  const app = createBaselineApp(pool, opts.jwtSecret, now, trending);
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  try {
    await new Promise<void>((resolveListen, rejectListen) => {
      server.once("error", rejectListen);
      server.listen(opts.port ?? 0, host, () => {
        server.off("error", rejectListen);
        resolveListen();
      });
    });
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  const timer = setInterval(() => {
    if (refreshing) return; // the previous refresh still runs: skip this tick
    refresh().catch((err) => console.error(`[baseline] trending refresh: ${String(err)}`));
  }, opts.trendingRefreshMs ?? BASELINE_TRENDING_REFRESH_MS);
  timer.unref();
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}`,
    refreshTrending: refresh,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await new Promise<void>((done) => {
          server.close(() => done());
          server.closeIdleConnections();
        });
        await (refreshing as Promise<void> | null)?.catch(() => {});
        await pool.end();
      })();
      return closing;
    },
  };
}

export interface PrepareOptions {
  /**
   * Also mark every bulk-loaded impression as seen (bench_seen). Default false: the product's
   * seen sets live in Redis and are written by the edge's intake only, so after a bulk load (whose
   * events bypass the edge) they are empty; the baseline then filters the same (nothing).
   */
  seenFromEvents?: boolean;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
  /** Events per export statement (EXPORT_CHUNK_ROWS); tests make it small to cross chunks. */
  exportChunkRows?: number;
}

/**
 * Events per statement of the export from ClickHouse: one statement for all of them does not
 * scale (at 300k users the gateway buffered 30M rows and stopped at its 30 s statement limit),
 * so the export pages through the primary key (`event_id > last ORDER BY event_id LIMIT n`),
 * each page read in key order and streamed into its own COPY. 1M rows take ~5 s here.
 */
export const EXPORT_CHUNK_ROWS = 1_000_000;

/** Passes TabSeparated rows through, counting them and keeping the last one's first field. */
class RowTracker extends Transform {
  rows = 0;
  lastKey: string | null = null;
  private pending: Buffer = Buffer.alloc(0);
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      this.pending = Buffer.concat([this.pending, chunk]);
    } else {
      for (let i = chunk.indexOf(10); i !== -1 && i <= last; i = chunk.indexOf(10, i + 1)) this.rows++;
      const before = chunk.lastIndexOf(10, last - 1);
      const line =
        before >= 0 ? chunk.subarray(before + 1, last) : Buffer.concat([this.pending, chunk.subarray(0, last)]);
      const tab = line.indexOf(9);
      this.lastKey = line.subarray(0, tab < 0 ? line.length : tab).toString("utf8");
      this.pending = Buffer.from(chunk.subarray(last + 1));
    }
    done(null, chunk);
  }
}

/** events_raw → bench_events, EXPORT_CHUNK_ROWS at a time by event_id; returns the rows copied. */
async function copyEventsInChunks(client: pg.PoolClient, ch: ClickHouseClient, chunkRows: number): Promise<number> {
  let after: string | null = null;
  let total = 0;
  for (;;) {
    const { stream } = await ch.exec({
      query: `SELECT event_id, user_id, post_id, toString(type), dwell_ms, client_ts, received_at
              FROM events_raw FINAL
              ${after === null ? "" : "WHERE event_id > {after:UUID}"}
              ORDER BY event_id LIMIT {rows:UInt64} FORMAT TabSeparated`,
      query_params: { rows: chunkRows, ...(after === null ? {} : { after }) },
    });
    const rows = new RowTracker();
    const copy = client.query(
      copyFrom(
        "COPY bench_events (event_id, user_id, post_id, type, dwell_ms, client_ts, received_at) FROM STDIN WITH (FORMAT text)",
      ),
    );
    await pipeline(stream, rows, copy);
    total += rows.rows;
    if (rows.rows < chunkRows || rows.lastKey === null) return total;
    after = rows.lastKey;
  }
}

export interface PrepareResult {
  events: number;
  countedKeys: number;
  postCounters: number;
  userAuthorDays: number;
  seen: number;
  timingsMs: Record<string, number>;
}

/**
 * Fills the baseline's event tables from the events a bulk load wrote into ClickHouse
 * (scripts/lib/bulk.ts generates them there; they never pass through an intake): events_raw →
 * bench_events by streamed COPYs (a page of EXPORT_CHUNK_ROWS each), then the counters the
 * intake would have kept, set-based and by the same rule (the first share / click per (user,
 * post), the first impression per (user, post, UTC day), never on one's own post), then
 * ANALYZE and a refresh of the materialized views.
 * Replaces whatever the baseline's tables held; the product's tables are only read. Call it after
 * the bulk load and before startBaseline (or call the server's refreshTrending() after it).
 */
export async function prepareBaselineData(
  pool: pg.Pool,
  ch: ClickHouseClient,
  opts: PrepareOptions = {},
): Promise<PrepareResult> {
  const log = opts.log ?? (() => {});
  const timings: Record<string, number> = {};
  let t = Date.now();
  const lap = (name: string) => {
    timings[name] = Date.now() - t;
    log(`baseline prepare: ${name} ${timings[name]} ms`);
    t = Date.now();
  };
  await ensureBaselineSchema(pool);
  const client = await pool.connect();
  try {
    await client.query("SET TIME ZONE 'UTC'");
    await client.query(
      "TRUNCATE bench_events, bench_counted_keys, bench_post_counters, bench_user_author_days, bench_seen",
    );
    // Load without the primary key, then build it once (sorted build: much faster than 10M inserts).
    await client.query("ALTER TABLE bench_events DROP CONSTRAINT IF EXISTS bench_events_pkey");
    await copyEventsInChunks(client, ch, opts.exportChunkRows ?? EXPORT_CHUNK_ROWS);
    lap("copy_events");
    await client.query("ALTER TABLE bench_events ADD PRIMARY KEY (event_id)");
    lap("events_pkey");
    await client.query("BEGIN");
    await client.query(sql("prepare-counted-keys"));
    lap("counted_keys");
    await client.query(sql("prepare-post-counters"));
    lap("post_counters");
    await client.query(sql("prepare-user-author-days"));
    lap("user_author_days");
    if (opts.seenFromEvents) {
      await client.query(sql("prepare-seen"));
      lap("seen");
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  await pool.query("ANALYZE bench_events, bench_counted_keys, bench_post_counters, bench_user_author_days, bench_seen");
  await pool.query("REFRESH MATERIALIZED VIEW bench_trending_pool");
  await pool.query("REFRESH MATERIALIZED VIEW bench_popular_authors");
  lap("analyze_refresh");
  const { rows } = await pool.query<Record<string, number>>(`
    SELECT (SELECT count(*) FROM bench_events)::int AS events,
           (SELECT count(*) FROM bench_counted_keys)::int AS counted_keys,
           (SELECT count(*) FROM bench_post_counters)::int AS post_counters,
           (SELECT count(*) FROM bench_user_author_days)::int AS user_author_days,
           (SELECT count(*) FROM bench_seen)::int AS seen`);
  const r = rows[0] ?? {};
  return {
    events: r.events ?? 0,
    countedKeys: r.counted_keys ?? 0,
    postCounters: r.post_counters ?? 0,
    userAuthorDays: r.user_author_days ?? 0,
    seen: r.seen ?? 0,
    timingsMs: timings,
  };
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const jwtSecret = readDevVar("JWT_SECRET");
  if (!jwtSecret) throw new Error("JWT_SECRET is not set (see .dev.vars.example)");
  const port = Number(process.env.BASELINE_PORT ?? BASELINE_DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad BASELINE_PORT: ${port}`);
  const server = await startBaseline({
    // The origin's default (origin/src/config.ts).
    databaseUrl: process.env.DATABASE_URL ?? "postgres://feed_app:feed_app@127.0.0.1:5432/feed",
    jwtSecret,
    port,
  });
  console.log(`baseline (PostgreSQL only) listening on ${server.url}`);
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
