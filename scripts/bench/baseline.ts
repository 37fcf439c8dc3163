/**
 * The benchmark's baseline: "the service a team would otherwise write" — a plain Node HTTP
 * service over PostgreSQL only (no Redis, no ClickHouse, no cache), behind the same HTTP
 * contract as the edge (paths, auth, response shapes, error envelope), so one load generator
 * drives both.
 *
 *   GET  /api/v1/feed?limit=20                       one SQL query: candidates, counts, score
 *   GET  /api/v1/discover/suggested-users?limit=20   friends of friends, one SQL query
 *   POST /api/v1/events                              one multi-row INSERT into bench_events
 *   GET  /healthz                                    {ok: true}, no auth
 *
 * Library: `startBaseline({ databaseUrl, jwtSecret, port: 0 })`. CLI:
 * `tsx scripts/bench/baseline.ts` with DATABASE_URL, JWT_SECRET (default: as `npm run token`
 * signs, i.e. .dev.vars, else .dev.vars.example) and BASELINE_PORT (default 8790).
 */
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createAdaptorServer } from "@hono/node-server";
import { zValidator } from "@hono/zod-validator";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { jwtVerify } from "jose";
import pg from "pg";
import { z } from "zod";
import {
  ApiError,
  acceptEvents,
  authenticateUser,
  DEFAULT_WEIGHTS,
  errorAnswer,
  eventsEnvelopeSchema,
  MAX_EVENTS_BODY_BYTES,
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
}

export interface BaselineServer {
  url: string;
  close(): Promise<void>;
}

/** Default port of the CLI. */
export const BASELINE_DEFAULT_PORT = 8790;

/**
 * The straightforward PostgreSQL feed: the viewer's followees' live posts of the last 72 h
 * (not the viewer's own, not by a deleted author, not by anyone blocked either way), each with
 * its live like and comment counts and the viewer's affinity with its author, scored in SQL by
 * the formula of edge/core/ranking/score.ts:
 *   freshness  = exp(-decay * hours_since_post)
 *   engagement = ln(1 + (likes + 2*comments + 3*shares) / greatest(impressions, 1))
 *   affinity   = ln(1 + interactions_with_author_90d)
 *   score      = wF*freshness + wE*engagement + wA*affinity
 * The baseline a team would write first has only the OLTP tables: shares and impressions are
 * events that never reach PostgreSQL, so shares = 0 and impressions = 1 here. Affinity is the
 * viewer's live likes + comments on the author's posts in the last 90 days.
 *
 * $1 viewer uuid, $2 now (timestamptz), $3 limit, $4 wF, $5 wE, $6 wA, $7 decay per hour.
 * Indexes used: bench_follows_live_idx for the followees; posts_author_created_idx per followee;
 * likes_post_idx and comments_post_created_idx for the counts; blocks PK and
 * blocks_blocked_idx; bench_likes_viewer_author_idx and bench_comments_viewer_author_idx
 * (created by startBaseline) for the affinity.
 */
export const BASELINE_FEED_SQL = `
WITH
  followees AS (
    SELECT followee_id AS author_id FROM follows
    WHERE follower_id = $1::uuid AND deleted_at IS NULL
  ),
  blocked AS (
    SELECT blocked_id AS user_id FROM blocks WHERE blocker_id = $1::uuid AND deleted_at IS NULL
    UNION
    SELECT blocker_id FROM blocks WHERE blocked_id = $1::uuid AND deleted_at IS NULL
  ),
  candidates AS (
    SELECT p.id, p.author_id, p.text, p.created_at
    FROM followees f
    JOIN posts p ON p.author_id = f.author_id
    JOIN users u ON u.id = p.author_id
    WHERE p.deleted_at IS NULL
      AND p.created_at >= $2::timestamptz - interval '72 hours'
      AND u.deleted_at IS NULL
      AND p.author_id <> $1::uuid
      AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = p.author_id)
  ),
  affinity AS (
    SELECT i.author_id, count(*) AS n
    FROM (
      SELECT l.post_author_id AS author_id FROM likes l
      WHERE l.user_id = $1::uuid AND l.deleted_at IS NULL AND l.created_at >= $2::timestamptz - interval '90 days'
      UNION ALL
      SELECT c.post_author_id FROM comments c
      WHERE c.author_id = $1::uuid AND c.deleted_at IS NULL AND c.created_at >= $2::timestamptz - interval '90 days'
    ) i
    WHERE i.author_id IN (SELECT author_id FROM candidates)
    GROUP BY i.author_id
  ),
  features AS (
    SELECT
      c.id, c.author_id, c.text, c.created_at,
      greatest(0, extract(epoch FROM $2::timestamptz - c.created_at))::float8 / 3600 AS hours,
      (SELECT count(*) FROM likes l WHERE l.post_id = c.id AND l.deleted_at IS NULL) AS likes,
      (SELECT count(*) FROM comments cm WHERE cm.post_id = c.id AND cm.deleted_at IS NULL) AS comments,
      0 AS shares,
      1 AS impressions,
      coalesce(a.n, 0) AS interactions
    FROM candidates c
    LEFT JOIN affinity a ON a.author_id = c.author_id
  ),
  scored AS (
    SELECT
      f.*,
      $4::float8 * exp(-$7::float8 * f.hours)
        + $5::float8 * ln(1 + (f.likes + 2 * f.comments + 3 * f.shares)::float8 / greatest(f.impressions, 1))
        + $6::float8 * ln(1 + f.interactions::float8) AS score
    FROM features f
  )
SELECT id::text AS post_id, author_id::text AS author_id, created_at, text, score
FROM scored
ORDER BY score DESC, id
LIMIT $3::int
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

/** Events land here, one multi-row INSERT per request; a repeated event_id is dropped. */
export const BASELINE_EVENTS_INSERT_SQL = `
INSERT INTO bench_events (event_id, user_id, post_id, type, dwell_ms, client_ts)
SELECT e.event_id, $1::uuid, e.post_id, e.type, e.dwell_ms, e.client_ts
FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::timestamptz[])
  AS e(event_id, post_id, type, dwell_ms, client_ts)
ON CONFLICT (event_id) DO NOTHING
`;

/**
 * Schema the baseline adds at start, idempotently (serialised by an advisory lock so two
 * starting baselines don't race on CREATE … IF NOT EXISTS). Only what its queries need:
 * - bench_events: the event intake table (the edge appends to a Redis stream instead).
 * - bench_likes_viewer_author_idx: the viewer's live likes by post author and time, so the
 *   feed's affinity reads the index only (the likes PK (user_id, post_id) would need a heap
 *   fetch per like to learn post_author_id, created_at and deleted_at).
 * - bench_comments_viewer_author_idx: the same for the viewer's comments (the existing
 *   comments_author_idx (author_id) is neither partial nor covering).
 * - bench_follows_live_idx: live follows by follower, so "whom does X follow" (the feed's
 *   followees, both hops of the suggestions) is an index-only scan; the follows PK includes
 *   unfollowed rows and needs a heap fetch per row to check deleted_at (suggestions ~30% faster
 *   with it on 20k users × 50 follows).
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
  `CREATE INDEX IF NOT EXISTS bench_likes_viewer_author_idx
    ON likes (user_id, post_author_id, created_at) WHERE deleted_at IS NULL`,
  `CREATE INDEX IF NOT EXISTS bench_comments_viewer_author_idx
    ON comments (author_id, post_author_id, created_at) WHERE deleted_at IS NULL`,
  `CREATE INDEX IF NOT EXISTS bench_follows_live_idx
    ON follows (follower_id, followee_id) WHERE deleted_at IS NULL`,
];

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

function createBaselineApp(pool: pg.Pool, jwtSecret: string, now: () => number): Hono<Env> {
  const app = new Hono<Env>();
  const auth = requireUser(jwtSecret);

  app.get("/healthz", (c) => c.json({ ok: true }));

  app.get("/api/v1/feed", auth, zValidator("query", feedQuery, rejectInvalid), async (c) => {
    const { limit } = c.req.valid("query");
    const w = DEFAULT_WEIGHTS;
    const { rows } = await pool.query<{
      post_id: string;
      author_id: string;
      created_at: Date;
      text: string;
      score: number;
    }>(BASELINE_FEED_SQL, [
      c.get("userId"),
      new Date(now()),
      limit,
      w.freshness,
      w.engagement,
      w.affinity,
      w.freshnessDecayPerHour,
    ]);
    c.header("Cache-Control", "private, no-store");
    return c.json({
      items: rows.map((r) => ({
        post_id: r.post_id,
        author_id: r.author_id,
        created_at: r.created_at.toISOString(),
        text: r.text,
        source: "follow" as const,
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
      await pool.query(BASELINE_EVENTS_INSERT_SQL, [
        c.get("userId"),
        records.map((r) => r.event_id),
        records.map((r) => r.post_id),
        records.map((r) => r.type),
        records.map((r) => r.dwell_ms),
        records.map((r) => new Date(r.client_ts).toISOString()),
      ]);
      return c.json({ accepted: records.length, rejected }, 202);
    },
  );

  app.notFound((c) => answerError(new ApiError("not_found", `no route for ${c.req.method} ${c.req.path}`), c));
  app.onError(answerError);

  return app;
}

/** Creates the pool and the baseline's schema, then listens; `close()` stops both. */
export async function startBaseline(opts: BaselineOptions): Promise<BaselineServer> {
  if (!opts.jwtSecret || opts.jwtSecret.length < 32) {
    throw new Error("baseline: jwtSecret must be at least 32 characters (as the edge requires)");
  }
  const host = opts.host ?? "127.0.0.1";
  const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 8 });
  // An idle client's connection error must not crash the process; the next query reports it.
  pool.on("error", (err) => console.error(`[baseline] idle PostgreSQL client: ${err.message}`));
  try {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK_KEY]);
      for (const sql of BASELINE_SCHEMA_SQL) await client.query(sql);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }

  const app = createBaselineApp(pool, opts.jwtSecret, opts.now ?? Date.now);
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
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}`,
    close() {
      closing ??= (async () => {
        await new Promise<void>((done) => {
          server.close(() => done());
          server.closeIdleConnections();
        });
        await pool.end();
      })();
      return closing;
    },
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
