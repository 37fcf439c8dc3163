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
 *   POST /api/v1/events                              one statement: events + counters + affinity
 *                                                    + seen, in one transaction
 *   GET  /healthz                                    {ok: true}, no auth
 * Trending: a materialized view refreshed CONCURRENTLY every 60 s by the service's own timer,
 * ranked into the hot list (F2) after each refresh.
 *
 * Library: `startBaseline({ databaseUrl, jwtSecret, port: 0 })`; after a bulk load,
 * `prepareBaselineData(pool, ch)` fills the event tables from ClickHouse's events_raw. CLI:
 * `tsx scripts/bench/baseline.ts` with DATABASE_URL, JWT_SECRET (default: as `npm run token`
 * signs, i.e. .dev.vars, else .dev.vars.example) and BASELINE_PORT (default 8790).
 */
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
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
import {
  ApiError,
  acceptEvents,
  authenticateUser,
  type CandidateRowLike,
  candidatesFromQuery,
  errorAnswer,
  eventsEnvelopeSchema,
  FEED_QUERY_LIMITS,
  MAX_EVENTS_BODY_BYTES,
  rankFeed,
  rankHotPosts,
  rejectInvalid,
  userTokenChecks,
} from "../../edge/core/index.ts";
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
 * The feed's candidates and features in ONE PostgreSQL query: what FEED_CANDIDATES_SQL
 * (edge/core/sql.ts) is on ClickHouse, with the same sources, limits and windows
 * (FEED_QUERY_LIMITS; edge/core/serving/read.ts):
 *   F1 follow    the newest $3 live posts of the viewer's live followees, last 72 h
 *   F2 trending  the hot list ($7, ids ranked by the service after each refresh of
 *                bench_trending_pool), plus for a viewer without followees the newest $4 posts
 *                of the 20 most followed authors (bench_popular_authors), last 72 h
 *   F3 affinity  the newest $5 posts of the viewer's top $6 affinity authors, last 7 days
 * Every candidate carries its live like and comment counts but the author's own (index-only
 * counts on the OLTP tables), its counted shares and impressions (bench_post_counters, kept by
 * the event intake), the viewer's affinity with its author over 90 days (likes, comments,
 * counted shares and clicks, never on the viewer's own posts, by UTC day as user_author_90d),
 * and the flags the rules need (author blocked either way, author deleted, seen by the viewer in
 * the last 7 days). Merge, filters, scoring, diversity, the lift of a followee's post younger
 * than 2 h into the first 50 and the 500 cap then run in the product's pure code (rankFeed), as
 * on the edge.
 *
 * $1 viewer uuid, $2 now (timestamptz), $3 f1_limit, $4 f2_limit, $5 f3_limit,
 * $6 affinity_authors, $7 trending post ids (uuid[]).
 * Indexes: bench_follows_live_idx (followees), posts_author_created_idx (F1/F2 cold/F3 per
 * author), posts PK (trending), bench_likes_post_others_idx and bench_comments_post_others_idx
 * (counts), bench_post_counters PK, bench_likes_viewer_author_idx,
 * bench_comments_viewer_author_idx and bench_user_author_days PK (affinity), blocks PK and
 * blocks_blocked_idx, bench_seen PK.
 */
export const BASELINE_FEED_SQL = `
WITH
  followees AS MATERIALIZED (
    SELECT followee_id AS author_id FROM follows
    WHERE follower_id = $1::uuid AND deleted_at IS NULL
  ),
  blocked AS MATERIALIZED (
    SELECT blocked_id AS user_id FROM blocks WHERE blocker_id = $1::uuid AND deleted_at IS NULL
    UNION
    SELECT blocker_id FROM blocks WHERE blocked_id = $1::uuid AND deleted_at IS NULL
  ),
  since AS MATERIALIZED (
    SELECT (($2::timestamptz AT TIME ZONE 'UTC')::date - 90) AS day,
           ((($2::timestamptz AT TIME ZONE 'UTC')::date - 90)::timestamp AT TIME ZONE 'UTC') AS at
  ),
  affinity AS MATERIALIZED (
    SELECT i.author_id, sum(i.n)::bigint AS n
    FROM (
      SELECT l.post_author_id AS author_id, count(*) AS n FROM likes l
      WHERE l.user_id = $1::uuid AND l.deleted_at IS NULL AND l.post_author_id <> $1::uuid
        AND l.created_at >= (SELECT at FROM since)
      GROUP BY 1
      UNION ALL
      SELECT c.post_author_id, count(*) FROM comments c
      WHERE c.author_id = $1::uuid AND c.deleted_at IS NULL AND c.post_author_id <> $1::uuid
        AND c.created_at >= (SELECT at FROM since)
      GROUP BY 1
      UNION ALL
      SELECT d.author_id, sum(d.n) FROM bench_user_author_days d
      WHERE d.user_id = $1::uuid AND d.day >= (SELECT day FROM since)
      GROUP BY 1
    ) i
    GROUP BY i.author_id
    HAVING sum(i.n) > 0
  ),
  candidates AS MATERIALIZED (
    (SELECT p.id, 1 AS src FROM posts p
     WHERE p.author_id IN (SELECT author_id FROM followees)
       AND p.deleted_at IS NULL AND p.created_at >= $2::timestamptz - interval '72 hours'
     ORDER BY p.created_at DESC, p.id DESC LIMIT $3::int)
    UNION ALL
    SELECT p.id, 2 FROM posts p WHERE p.id = ANY($7::uuid[]) AND p.deleted_at IS NULL
    UNION ALL
    (SELECT p.id, 2 FROM posts p
     WHERE NOT EXISTS (SELECT 1 FROM followees)
       AND p.author_id IN (SELECT author_id FROM bench_popular_authors)
       AND p.deleted_at IS NULL AND p.created_at >= $2::timestamptz - interval '72 hours'
     ORDER BY p.created_at DESC, p.id DESC LIMIT $4::int)
    UNION ALL
    (SELECT p.id, 3 FROM posts p
     WHERE p.author_id IN (SELECT author_id FROM affinity ORDER BY n DESC, author_id LIMIT $6::int)
       AND p.deleted_at IS NULL AND p.created_at >= $2::timestamptz - interval '7 days'
     ORDER BY p.created_at DESC, p.id DESC LIMIT $5::int)
  ),
  features AS MATERIALIZED (
    SELECT
      p.id, p.author_id, p.text,
      floor(extract(epoch FROM p.created_at) * 1000)::float8 AS created_at_ms,
      (SELECT count(*) FROM likes l
       WHERE l.post_id = p.id AND l.deleted_at IS NULL AND l.user_id <> l.post_author_id)::int AS likes,
      (SELECT count(*) FROM comments cm
       WHERE cm.post_id = p.id AND cm.deleted_at IS NULL AND cm.author_id <> cm.post_author_id)::int AS comments,
      coalesce(pc.shares, 0)::int AS shares,
      coalesce(pc.impressions, 0)::int AS impressions,
      coalesce(a.n, 0)::int AS affinity,
      EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = p.author_id) AS author_blocked,
      (u.id IS NULL OR u.deleted_at IS NOT NULL) AS author_deleted,
      EXISTS (
        SELECT 1 FROM bench_seen s
        WHERE s.user_id = $1::uuid AND s.post_id = p.id AND s.seen_at >= $2::timestamptz - interval '7 days'
      ) AS seen
    FROM (SELECT DISTINCT id FROM candidates) ids
    JOIN posts p ON p.id = ids.id
    LEFT JOIN users u ON u.id = p.author_id
    LEFT JOIN bench_post_counters pc ON pc.post_id = p.id
    LEFT JOIN affinity a ON a.author_id = p.author_id
  )
SELECT c.src, f.id::text AS post_id, f.author_id::text AS author_id, f.text, f.created_at_ms,
       f.likes, f.comments, f.shares, f.impressions, f.affinity, f.author_blocked, f.author_deleted, f.seen
FROM candidates c
JOIN features f ON f.id = c.id
`;

/**
 * The trending pool, a materialized view refreshed (CONCURRENTLY) every 60 s by a timer the
 * service owns: what TRENDING_CANDIDATES_SQL is on ClickHouse. Live posts of the last 24 h with
 * any engagement (likes and comments but the author's own, counted shares), the 1000 most
 * engaged (likes + 2·comments + 3·shares, then newest), with their counters and whether the
 * author is deleted. After each refresh the service ranks it with rankHotPosts (the product's
 * hot list: formula without a viewer, diversity pass, at most 200) and keeps the ids: the
 * feed's F2 source.
 */
export const BASELINE_TRENDING_VIEW_SQL = `
CREATE MATERIALIZED VIEW IF NOT EXISTS bench_trending_pool AS
WITH recent AS (
  SELECT id, author_id, text, created_at FROM posts
  WHERE deleted_at IS NULL AND created_at >= now() - interval '24 hours'
),
lk AS (
  SELECT l.post_id, count(*) AS n FROM likes l JOIN recent r ON r.id = l.post_id
  WHERE l.deleted_at IS NULL AND l.user_id <> l.post_author_id GROUP BY l.post_id
),
cm AS (
  SELECT c.post_id, count(*) AS n FROM comments c JOIN recent r ON r.id = c.post_id
  WHERE c.deleted_at IS NULL AND c.author_id <> c.post_author_id GROUP BY c.post_id
),
m AS (
  SELECT r.id AS post_id, r.author_id, r.text, r.created_at,
         coalesce(lk.n, 0)::int AS likes, coalesce(cm.n, 0)::int AS comments,
         coalesce(pc.shares, 0)::int AS shares, coalesce(pc.impressions, 0)::int AS impressions,
         (u.id IS NULL OR u.deleted_at IS NOT NULL) AS author_deleted
  FROM recent r
  LEFT JOIN lk ON lk.post_id = r.id
  LEFT JOIN cm ON cm.post_id = r.id
  LEFT JOIN bench_post_counters pc ON pc.post_id = r.id
  LEFT JOIN users u ON u.id = r.author_id
)
SELECT * FROM m
WHERE likes + 2 * comments + 3 * shares > 0
ORDER BY likes + 2 * comments + 3 * shares DESC, created_at DESC, post_id
LIMIT 1000
`;

/**
 * The 20 most followed authors (live follows), for a viewer without followees (the cold-start
 * part of F2, as author_stats on ClickHouse). Refreshed with the trending pool.
 */
export const BASELINE_POPULAR_VIEW_SQL = `
CREATE MATERIALIZED VIEW IF NOT EXISTS bench_popular_authors AS
SELECT followee_id AS author_id, count(*)::bigint AS followers
FROM follows WHERE deleted_at IS NULL
GROUP BY followee_id
ORDER BY count(*) DESC, followee_id
LIMIT 20
`;

/**
 * Friends of friends: users followed by the viewer's (live) followees, ranked by how many of
 * them follow each; never the viewer, anyone the viewer already follows, anyone blocked either
 * way or a deleted user. $1 viewer uuid, $2 limit. bench_follows_live_idx serves both hops.
 */
export const BASELINE_SUGGESTED_USERS_SQL = `
WITH
  mine AS (
    SELECT followee_id FROM follows WHERE follower_id = $1::uuid AND deleted_at IS NULL
  ),
  fof AS (
    SELECT f.followee_id AS user_id, count(*) AS n
    FROM mine m
    JOIN follows f ON f.follower_id = m.followee_id
    WHERE f.deleted_at IS NULL
    GROUP BY f.followee_id
  )
SELECT fof.user_id::text AS user_id, fof.n::float8 AS score, 'followed_by_your_follows' AS reason
FROM fof
JOIN users u ON u.id = fof.user_id AND u.deleted_at IS NULL
WHERE fof.user_id <> $1::uuid
  AND NOT EXISTS (SELECT 1 FROM mine WHERE mine.followee_id = fof.user_id)
  AND NOT EXISTS (
    SELECT 1 FROM blocks b
    WHERE b.deleted_at IS NULL
      AND ((b.blocker_id = $1::uuid AND b.blocked_id = fof.user_id)
        OR (b.blocker_id = fof.user_id AND b.blocked_id = $1::uuid))
  )
ORDER BY fof.n DESC, fof.user_id
LIMIT $2::int
`;

/**
 * Event intake: ONE statement per request (so one transaction), multi-row throughout. It stores
 * the new events (a repeated event_id is dropped) and, for those that count by the product's
 * rule (edge/core/counting.ts: never on one's own post; at most one share and one click per
 * (user, post) ever, one impression per (user, post, UTC day), decided by the
 * bench_counted_keys primary key), bumps the per-post counters and the per-(user, author, day)
 * interaction counts (shares and clicks: the affinity signal); every accepted impression marks
 * the post seen. Counter rows are written in key order, so concurrent requests take their row
 * locks in the same order.
 *
 * $1 user uuid, $2 event ids, $3 post ids, $4 types, $5 dwell ms, $6 client ts, $7 received at.
 */
export const BASELINE_EVENTS_INSERT_SQL = `
WITH
  input AS (
    SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::timestamptz[])
      AS e(event_id, post_id, type, dwell_ms, client_ts)
  ),
  ins AS (
    INSERT INTO bench_events (event_id, user_id, post_id, type, dwell_ms, client_ts, received_at)
    SELECT event_id, $1::uuid, post_id, type, dwell_ms, client_ts, $7::timestamptz FROM input
    ON CONFLICT (event_id) DO NOTHING
    RETURNING post_id, type, dwell_ms
  ),
  eligible AS (
    SELECT i.post_id, i.type, i.dwell_ms, p.author_id
    FROM ins i LEFT JOIN posts p ON p.id = i.post_id
    WHERE p.author_id IS DISTINCT FROM $1::uuid
  ),
  keyed AS (
    INSERT INTO bench_counted_keys (user_id, post_id, type, day, first_at)
    SELECT DISTINCT $1::uuid, post_id, type,
           CASE WHEN type = 'impression' THEN ($7::timestamptz AT TIME ZONE 'UTC')::date ELSE DATE '1970-01-01' END,
           $7::timestamptz
    FROM eligible WHERE type IN ('impression', 'share', 'click')
    ORDER BY 2, 3
    ON CONFLICT DO NOTHING
    RETURNING post_id, type
  ),
  counted AS (
    SELECT post_id, type, 0 AS dwell_ms FROM keyed
    UNION ALL
    SELECT post_id, type, dwell_ms FROM eligible WHERE type IN ('view', 'dwell')
  ),
  counters AS (
    INSERT INTO bench_post_counters AS c (post_id, impressions, views, clicks, shares, dwell_ms)
    SELECT post_id,
           count(*) FILTER (WHERE type = 'impression'), count(*) FILTER (WHERE type = 'view'),
           count(*) FILTER (WHERE type = 'click'), count(*) FILTER (WHERE type = 'share'),
           coalesce(sum(dwell_ms) FILTER (WHERE type = 'dwell'), 0)
    FROM counted GROUP BY post_id ORDER BY post_id
    ON CONFLICT (post_id) DO UPDATE SET
      impressions = c.impressions + EXCLUDED.impressions, views = c.views + EXCLUDED.views,
      clicks = c.clicks + EXCLUDED.clicks, shares = c.shares + EXCLUDED.shares,
      dwell_ms = c.dwell_ms + EXCLUDED.dwell_ms
    RETURNING 1
  ),
  interactions AS (
    INSERT INTO bench_user_author_days AS a (user_id, author_id, day, n)
    SELECT $1::uuid, p.author_id, ($7::timestamptz AT TIME ZONE 'UTC')::date, count(*)
    FROM keyed k JOIN posts p ON p.id = k.post_id
    WHERE k.type IN ('share', 'click')
    GROUP BY p.author_id ORDER BY p.author_id
    ON CONFLICT (user_id, author_id, day) DO UPDATE SET n = a.n + EXCLUDED.n
    RETURNING 1
  ),
  seen AS (
    INSERT INTO bench_seen AS s (user_id, post_id, seen_at)
    SELECT DISTINCT $1::uuid, post_id, $7::timestamptz FROM input WHERE type = 'impression'
    ORDER BY 2
    ON CONFLICT (user_id, post_id) DO UPDATE SET seen_at = greatest(s.seen_at, EXCLUDED.seen_at)
    RETURNING 1
  )
SELECT (SELECT count(*) FROM ins)::int AS inserted
`;

/**
 * The trending pool's definition version, kept as the view's comment: a database holding a pool
 * of another version (an older baseline's, which counted the author's own likes and comments)
 * gets it dropped and rebuilt by ensureBaselineSchema.
 */
export const BASELINE_TRENDING_VIEW_VERSION = "bench_trending_pool v2: no own likes or comments";

/**
 * Schema the baseline adds, idempotently (serialised by an advisory lock so two starting
 * baselines don't race on CREATE … IF NOT EXISTS). Only what its queries need; none of it is
 * in the CDC publication, and no trigger is added to the product's tables:
 * - bench_events: the event log (the edge appends to a Redis stream instead).
 * - bench_counted_keys: what already counted, by (user, post, type, day) with day 1970-01-01
 *   for shares and clicks (once ever) and the UTC receive day for impressions (once a day):
 *   the primary key decides the abuse bound, as event_counted_keys does on ClickHouse.
 * - bench_post_counters: counted impressions, views, clicks, shares, dwell per post.
 * - bench_user_author_days: counted shares + clicks of a user on an author per UTC day (the
 *   event half of the affinity; likes and comments are read live from their tables).
 * - bench_seen: the last impression per (user, post); the feed drops posts seen in 7 days.
 * - bench_trending_pool, bench_popular_authors: materialized views (unique indexes, so they
 *   refresh CONCURRENTLY without blocking readers). CREATE … IF NOT EXISTS keeps an existing
 *   view as it was, so the trending pool carries its definition's version as a comment and
 *   ensureBaselineSchema replaces a pool of another version (BASELINE_TRENDING_VIEW_VERSION).
 * - bench_likes_post_others_idx, bench_comments_post_others_idx: a post's live likes /
 *   comments but its author's own, so the feed's engagement counts read indexes only.
 * - bench_likes_viewer_author_idx, bench_comments_viewer_author_idx: the viewer's live likes /
 *   comments by post author and time, so the affinity reads indexes only.
 * - bench_follows_live_idx: live follows by follower (the followees, both hops of the
 *   suggestions) as an index-only scan.
 * Every other access path is an index of origin/db/migrations/0001_core_schema.sql.
 */
export const BASELINE_SCHEMA_SQL = [
  `CREATE TABLE IF NOT EXISTS bench_events (
    event_id    uuid PRIMARY KEY,
    user_id     uuid NOT NULL,
    post_id     uuid NOT NULL,
    type        text NOT NULL,
    dwell_ms    int NOT NULL DEFAULT 0,
    client_ts   timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE IF NOT EXISTS bench_counted_keys (
    user_id  uuid NOT NULL,
    post_id  uuid NOT NULL,
    type     text NOT NULL,
    day      date NOT NULL,
    first_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, post_id, type, day)
  )`,
  `CREATE TABLE IF NOT EXISTS bench_post_counters (
    post_id     uuid PRIMARY KEY,
    impressions bigint NOT NULL DEFAULT 0,
    views       bigint NOT NULL DEFAULT 0,
    clicks      bigint NOT NULL DEFAULT 0,
    shares      bigint NOT NULL DEFAULT 0,
    dwell_ms    bigint NOT NULL DEFAULT 0
  )`,
  `CREATE TABLE IF NOT EXISTS bench_user_author_days (
    user_id   uuid NOT NULL,
    author_id uuid NOT NULL,
    day       date NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (user_id, author_id, day)
  )`,
  `CREATE TABLE IF NOT EXISTS bench_seen (
    user_id uuid NOT NULL,
    post_id uuid NOT NULL,
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, post_id)
  )`,
  `CREATE INDEX IF NOT EXISTS bench_likes_viewer_author_idx
    ON likes (user_id, post_author_id, created_at) WHERE deleted_at IS NULL`,
  `CREATE INDEX IF NOT EXISTS bench_comments_viewer_author_idx
    ON comments (author_id, post_author_id, created_at) WHERE deleted_at IS NULL`,
  `CREATE INDEX IF NOT EXISTS bench_likes_post_others_idx
    ON likes (post_id) WHERE deleted_at IS NULL AND user_id <> post_author_id`,
  `CREATE INDEX IF NOT EXISTS bench_comments_post_others_idx
    ON comments (post_id) WHERE deleted_at IS NULL AND author_id <> post_author_id`,
  `CREATE INDEX IF NOT EXISTS bench_follows_live_idx
    ON follows (follower_id, followee_id) WHERE deleted_at IS NULL`,
  BASELINE_TRENDING_VIEW_SQL,
  "CREATE UNIQUE INDEX IF NOT EXISTS bench_trending_pool_post_idx ON bench_trending_pool (post_id)",
  `COMMENT ON MATERIALIZED VIEW bench_trending_pool IS '${BASELINE_TRENDING_VIEW_VERSION}'`,
  BASELINE_POPULAR_VIEW_SQL,
  "CREATE UNIQUE INDEX IF NOT EXISTS bench_popular_authors_author_idx ON bench_popular_authors (author_id)",
];

/** How often the service refreshes its materialized views (the product's hot list: 60 s). */
export const BASELINE_TRENDING_REFRESH_MS = 60_000;

const SCHEMA_LOCK_KEY = 7_302_811_790; // arbitrary, fixed: "bench baseline schema"

type Env = { Variables: { userId: string } };

const feedQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }).strict();
const suggestQuery = z.object({ limit: z.coerce.number().int().min(1).max(50).default(20) }).strict();

/**
 * Bearer JWT as the edge checks it (edge/core/user-token.ts: header, claims, `sub` a user
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
    c.header("Cache-Control", "private, no-store");
    return c.json({
      items: ranked.slice(0, limit).map((r) => ({
        post_id: r.postId,
        author_id: r.authorId,
        created_at: new Date(r.createdAtMs).toISOString(),
        text: r.text,
        source: r.source,
        score: r.score,
      })),
      next_cursor: null,
    });
  });

  app.get("/api/v1/discover/suggested-users", auth, zValidator("query", suggestQuery, rejectInvalid), async (c) => {
    const { limit } = c.req.valid("query");
    const { rows } = await pool.query<{ user_id: string; score: number; reason: "followed_by_your_follows" }>(
      BASELINE_SUGGESTED_USERS_SQL,
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
      await withRetry(() => pool.query(BASELINE_EVENTS_INSERT_SQL, params));
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
    for (const sql of BASELINE_SCHEMA_SQL) await client.query(sql);
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
 * bench_events by one streamed COPY, then the counters the intake would have kept, set-based and
 * by the same rule (the first share / click per (user, post), the first impression per (user,
 * post, UTC day), never on one's own post), then ANALYZE and a refresh of the materialized views.
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
    const { stream } = await ch.exec({
      query: `SELECT event_id, user_id, post_id, toString(type), dwell_ms, client_ts, received_at
              FROM events_raw FINAL FORMAT TabSeparated`,
    });
    const copy = client.query(
      copyFrom(
        "COPY bench_events (event_id, user_id, post_id, type, dwell_ms, client_ts, received_at) FROM STDIN WITH (FORMAT text)",
      ),
    );
    await pipeline(stream, copy);
    lap("copy_events");
    await client.query("ALTER TABLE bench_events ADD PRIMARY KEY (event_id)");
    lap("events_pkey");
    await client.query("BEGIN");
    await client.query(`
      INSERT INTO bench_counted_keys (user_id, post_id, type, day, first_at)
      SELECT e.user_id, e.post_id, e.type,
             CASE WHEN e.type = 'impression' THEN (e.received_at AT TIME ZONE 'UTC')::date ELSE DATE '1970-01-01' END AS day,
             min(e.received_at)
      FROM bench_events e LEFT JOIN posts p ON p.id = e.post_id
      WHERE e.type IN ('impression', 'share', 'click') AND p.author_id IS DISTINCT FROM e.user_id
      GROUP BY 1, 2, 3, 4`);
    lap("counted_keys");
    await client.query(`
      INSERT INTO bench_post_counters (post_id, impressions, views, clicks, shares, dwell_ms)
      SELECT post_id, sum(impressions), sum(views), sum(clicks), sum(shares), sum(dwell_ms)
      FROM (
        SELECT post_id,
               count(*) FILTER (WHERE type = 'impression') AS impressions, 0 AS views,
               count(*) FILTER (WHERE type = 'click') AS clicks,
               count(*) FILTER (WHERE type = 'share') AS shares, 0 AS dwell_ms
        FROM bench_counted_keys GROUP BY post_id
        UNION ALL
        SELECT e.post_id, 0, count(*) FILTER (WHERE e.type = 'view'), 0, 0,
               coalesce(sum(e.dwell_ms) FILTER (WHERE e.type = 'dwell'), 0)
        FROM bench_events e LEFT JOIN posts p ON p.id = e.post_id
        WHERE e.type IN ('view', 'dwell') AND p.author_id IS DISTINCT FROM e.user_id
        GROUP BY e.post_id
      ) x
      GROUP BY post_id`);
    lap("post_counters");
    await client.query(`
      INSERT INTO bench_user_author_days (user_id, author_id, day, n)
      SELECT k.user_id, p.author_id, (k.first_at AT TIME ZONE 'UTC')::date, count(*)
      FROM bench_counted_keys k JOIN posts p ON p.id = k.post_id
      WHERE k.type IN ('share', 'click')
      GROUP BY 1, 2, 3`);
    lap("user_author_days");
    if (opts.seenFromEvents) {
      await client.query(`
        INSERT INTO bench_seen (user_id, post_id, seen_at)
        SELECT user_id, post_id, max(received_at) FROM bench_events WHERE type = 'impression' GROUP BY 1, 2`);
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
