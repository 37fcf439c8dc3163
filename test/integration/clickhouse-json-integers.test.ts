/**
 * The product's own ClickHouse reads under both JSON spellings of 64-bit integers. A ClickHouse
 * server before 25.8 quotes UInt64/Int64 (and wider) in JSON formats by default, 25.8 and later
 * print them as numbers, and `output_format_json_quote_64bit_integers` picks either way. The
 * edge's and the origin's reads (the candidates, trending, suggestions and stats queries with
 * their row mapping, the generators, the index bootstrap's read, the migration bookkeeping) must
 * give the same answers whichever the server does: each runs here on one seeded dataset with a
 * client that forces quoting on and with one that forces it off, and the answers are compared.
 *
 * The gateway runs in-process over its own chDB directory; the generators write to the stack's
 * Redis under keys of this file's own.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { type ClickHouseClient, createClient as createNodeClient } from "@clickhouse/client";
import { createClient as createWebClient, type ClickHouseClient as WebClickHouseClient } from "@clickhouse/client-web";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rankHotPosts } from "#core/feed/hot-posts.ts";
import { type CandidateRowLike, candidatesFromQuery } from "#core/feed/rows.ts";
import { hotPostIdsKey, suggestKey } from "#core/keys.ts";
import {
  POST_AUTHOR_SQL,
  POST_STATS_SQL,
  type PostStatsRow,
  postStatsBody,
  postStatsSince,
} from "#core/reads/post-stats.ts";
import { suggestionsFromRows } from "#core/reads/suggestions.ts";
import { chDateTime64 } from "#core/sql/clickhouse-time.ts";
import {
  FEED_CANDIDATES_SQL,
  FEED_QUERY_LIMITS,
  SUGGESTED_USERS_SQL,
  TRENDING_CANDIDATES_SQL,
} from "#core/sql/queries.ts";
import { migrateClickHouse } from "../../origin/ch/migrate.ts";
import { readIndexState } from "../../origin/src/index/bootstrap.ts";
import { generateHotPosts, generateSuggestions } from "../../origin/src/jobs/generators.ts";
import {
  type GatewayUnderTest,
  startGatewayUnderTest,
} from "../../scripts/local/clickhouse-http-gateway/in-process.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const HOUR = 3_600_000;

let gw: GatewayUnderTest;
let admin: ClickHouseClient;
let redis: Redis;
const database = `json_ints_${randomBytes(4).toString("hex")}`;
const redisKeys: string[] = [];

const u = () => randomUUID();
const viewer = u();
const [a1, a2, blocked, gone, popular, fan] = [u(), u(), u(), u(), u(), u()];
const posts = { a1old: u(), a1new: u(), a2: u(), blocked: u(), gone: u(), popular: u() };
const now = Date.now();

const cdc = (atMs: number) => ({
  created_at: chDateTime64(atMs),
  updated_at: chDateTime64(atMs),
  deleted_at: null,
  _version: 1,
  _is_deleted: 0,
  _sign: 1,
  _source_ts: chDateTime64(atMs),
});

async function seed(ch: ClickHouseClient): Promise<void> {
  const insert = (table: string, values: Record<string, unknown>[]) =>
    ch.insert({ table, values, format: "JSONEachRow" });
  await insert(
    "users_cdc",
    [viewer, a1, a2, blocked, gone, popular, fan].map((id, i) => ({
      id,
      handle: `j${i}`,
      display_name: "",
      bio: "",
      ...cdc(now - 100 * HOUR),
      deleted_at: id === gone ? chDateTime64(now - HOUR) : null,
    })),
  );
  const follows: Array<[string, string]> = [
    [viewer, a1],
    [viewer, a2],
    [viewer, blocked],
    [viewer, gone],
    [a1, popular],
    [fan, popular],
    [fan, a1],
  ];
  await insert(
    "follows_cdc",
    follows.map(([follower_id, followee_id]) => ({ follower_id, followee_id, ...cdc(now - 50 * HOUR) })),
  );
  await insert("blocks_cdc", [{ blocker_id: viewer, blocked_id: blocked, ...cdc(now - 40 * HOUR) }]);
  const post = (id: string, author_id: string, agoMs: number) => ({
    id,
    author_id,
    text: `post ${id}`,
    ...cdc(now - agoMs),
  });
  await insert("posts_cdc", [
    post(posts.a1old, a1, 30 * HOUR),
    post(posts.a1new, a1, 2 * HOUR),
    post(posts.a2, a2, 5 * HOUR),
    post(posts.blocked, blocked, 3 * HOUR),
    post(posts.gone, gone, 4 * HOUR),
    post(posts.popular, popular, 6 * HOUR),
  ]);
  const like = (user_id: string, post_id: string, post_author_id: string) => ({
    user_id,
    post_id,
    post_author_id,
    ...cdc(now - HOUR),
  });
  await insert("likes_cdc", [
    like(viewer, posts.a1new, a1),
    like(fan, posts.a1new, a1),
    like(a2, posts.a1new, a1),
    like(viewer, posts.a2, a2),
    like(fan, posts.popular, popular),
    like(fan, posts.gone, gone),
  ]);
  await insert("comments_cdc", [
    { id: u(), post_id: posts.a1new, author_id: fan, post_author_id: a1, text: "c", ...cdc(now - HOUR) },
    { id: u(), post_id: posts.a2, author_id: viewer, post_author_id: a2, text: "c", ...cdc(now - HOUR) },
  ]);
  const events: Record<string, unknown>[] = [];
  const event = (user_id: string, post_id: string, author_id: string, type: string, agoMs: number) =>
    events.push({
      event_id: u(),
      user_id,
      post_id,
      author_id,
      type,
      dwell_ms: 0,
      counted: 1,
      client_ts: chDateTime64(now - agoMs),
      received_at: chDateTime64(now - agoMs),
    });
  for (const [i, user] of [viewer, fan, a2, popular].entries()) {
    event(user, posts.a1new, a1, "impression", HOUR + i * 1000);
    event(user, posts.a2, a2, "impression", 2 * HOUR + i * 1000);
    event(user, posts.popular, popular, "impression", 3 * HOUR + i * 1000);
  }
  event(viewer, posts.a1new, a1, "share", HOUR);
  event(fan, posts.popular, popular, "click", 2 * HOUR);
  await insert("events_raw", events);
}

/** Every read, as the product runs it, with the clients of one quoting setting. */
async function productReads(quote: 0 | 1) {
  const clickhouse_settings = { output_format_json_quote_64bit_integers: quote } as const;
  const opts = { url: gw.url, password: gw.password, database, clickhouse_settings };
  // The edge reads through @clickhouse/client-web, the origin through @clickhouse/client.
  const edge: WebClickHouseClient = createWebClient(opts);
  const origin: ClickHouseClient = createNodeClient(opts);
  const edgeRows = async <T>(query: string, query_params: Record<string, unknown>): Promise<T[]> =>
    (await edge.query({ query, query_params, format: "JSONEachRow" })).json<T>();
  try {
    // The quoting the server was asked for is the one it applies (a check of the setup itself).
    const [probe] = await edgeRows<{ n: unknown }>("SELECT count() AS n FROM users_cdc", {});
    expect(probe?.n).toBe(quote ? "7" : 7);

    // origin/src/jobs/generators.ts: the hot-posts and the suggestions generators. The hot-posts one
    // first: its trending_posts generation is the feed's trending source (the same one each run).
    const hotKey = `t:json-ints:${quote}:${randomBytes(4).toString("hex")}`;
    redisKeys.push(hotKey, hotPostIdsKey(hotKey));
    const hotReport = await generateHotPosts({ ch: origin, redis, hotKey, now: () => now });
    // edge/src/feed/service.ts (the cold path) and origin buildFallbackSnapshot's ClickHouse fallback.
    const feedRows = await edgeRows<CandidateRowLike>(FEED_CANDIDATES_SQL, { viewer, ...FEED_QUERY_LIMITS });
    const feed = candidatesFromQuery(feedRows, []);
    // edge/src/routes/trending.ts
    const trending = rankHotPosts(await edgeRows<CandidateRowLike>(TRENDING_CANDIDATES_SQL, { pool: 1000 }), now);
    // edge/src/routes/discover.ts
    const suggested = suggestionsFromRows(
      await edgeRows<{ user_id: string; score: string | number; reason: string }>(SUGGESTED_USERS_SQL, {
        viewer,
        limit: 20,
      }),
    );
    // edge/src/routes/stats.ts
    const hours = await edgeRows<PostStatsRow>(POST_STATS_SQL, {
      post: posts.a1new,
      since: Math.floor(postStatsSince(now) / 1000),
    });
    const [author] = await edgeRows<{ author: string; deleted: number | boolean }>(POST_AUTHOR_SQL, {
      post: posts.a1new,
    });
    const stats = postStatsBody(posts.a1new, String(author?.author), hours, now);

    const hotList = JSON.parse((await redis.get(hotKey)) ?? "null");
    const suggestReport = await generateSuggestions({ ch: origin, redis }, { maxUsers: 100 });
    const generated: Record<string, unknown> = {};
    for (const user of [viewer, fan, a2, popular]) {
      redisKeys.push(suggestKey(user));
      generated[user] = JSON.parse((await redis.get(suggestKey(user))) ?? "null");
    }
    // origin/src/index/bootstrap.ts: what the serving index is built from.
    const index = await readIndexState(origin);
    // origin/ch/migrate.ts: the applied migrations are read back and nothing is applied twice.
    const migrated = await migrateClickHouse(origin, origin, database);

    return {
      feed,
      trending,
      suggested,
      stats,
      authorDeleted: author?.deleted,
      hotReport,
      hotList,
      suggestReport,
      generated,
      index,
      migrated,
    };
  } finally {
    await edge.close();
    await origin.close();
  }
}

type Reads = Awaited<ReturnType<typeof productReads>>;
const results = new Map<0 | 1, Reads>();

beforeAll(async () => {
  gw = await startGatewayUnderTest({ CH_GATEWAY_SESSIONS: "4", CH_GATEWAY_TIMEOUT_MS: "20000" });
  admin = createNodeClient({ url: gw.url, password: gw.password });
  const ch = createNodeClient({ url: gw.url, password: gw.password, database });
  await migrateClickHouse(admin, ch, database);
  await seed(ch);
  await ch.close();
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  if (redis) {
    if (redisKeys.length) await redis.del(...redisKeys);
    redis.disconnect();
  }
  if (admin) {
    await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
    await admin.close();
  }
  await gw?.close();
});

describe.each([
  [1, "quoted (a server before 25.8, or the setting on)"],
  [0, "unquoted (a 25.8+ server, the setting off)"],
] as const)("64-bit integers %s: %s", (quote, _how) => {
  it("the product's reads give the seeded dataset's answers, numbers as numbers", async () => {
    const r = await productReads(quote);
    results.set(quote, r);

    // Feed candidates: follow sources of the viewer's followees, the blocked author flagged,
    // the deleted author's post flagged, counters as numbers.
    const follow = new Map(r.feed.bySource.follow.map((c) => [c.postId, c]));
    expect([...follow.keys()].sort()).toEqual([posts.a1old, posts.a1new, posts.a2, posts.blocked, posts.gone].sort());
    expect(follow.get(posts.gone)?.authorDeleted).toBe(true);
    const a1new = follow.get(posts.a1new);
    expect(a1new).toMatchObject({ authorId: a1, likes: 3, comments: 1, shares: 1, impressions: 4 });
    expect(a1new?.createdAtMs).toBe(now - 2 * HOUR);
    // The viewer liked and shared a1's post: affinity 2 (like + share), a number.
    expect(a1new?.authorInteractions90d).toBe(2);
    expect(follow.get(posts.a2)).toMatchObject({ likes: 1, comments: 1, impressions: 4, authorInteractions90d: 2 });
    expect(r.feed.blockedAuthorIds).toEqual(new Set([blocked]));
    expect(r.feed.bySource.affinity.map((c) => c.postId).sort()).toEqual([posts.a1old, posts.a1new, posts.a2].sort());
    for (const c of Object.values(r.feed.bySource).flat()) {
      for (const k of ["createdAtMs", "likes", "comments", "shares", "impressions", "authorInteractions90d"] as const)
        expect(typeof c[k], k).toBe("number");
    }

    // Trending: the engaged posts of the last 24 h, ranked; the deleted author's post marked.
    expect(r.trending.map((i) => i.postId).sort()).toEqual([posts.a1new, posts.a2, posts.popular].sort());
    expect(r.feed.bySource.trending.map((c) => c.postId).sort()).toEqual([posts.a1new, posts.a2, posts.popular].sort());
    expect(r.trending.every((i) => typeof i.score === "number" && Number.isFinite(i.score))).toBe(true);

    // Suggestions: followed by the viewer's followees (a1 follows `popular`), then popular authors.
    expect(r.suggested[0]).toEqual({ user_id: popular, score: 1, reason: "followed_by_your_follows" });
    expect(r.suggested.every((s) => typeof s.score === "number")).toBe(true);

    // Post stats: one hour of activity, totals as numbers.
    expect(r.stats.author_id).toBe(a1);
    expect(r.stats.totals).toEqual({ impressions: 4, views: 0, clicks: 0, likes: 3, comments: 1, shares: 1 });
    expect(r.stats.hours.length).toBeGreaterThan(0);
    expect(Number(r.authorDeleted)).toBe(0);

    // Generators: the same lists as the edge's own reads.
    // The deleted author's post is a candidate but never listed.
    expect(r.hotReport).toEqual({ candidates: 4, hot: 3 });
    expect(r.hotList).toEqual(JSON.parse(JSON.stringify(r.trending)));
    expect(r.suggestReport.written).toBeGreaterThanOrEqual(4);
    expect(r.generated[viewer]).toEqual(r.suggested);

    // Serving-index bootstrap read: counts and affinity as numbers.
    const state = r.index.posts.get(posts.a1new);
    expect(state).toMatchObject({ authorId: a1, createdMs: now - 2 * HOUR, impressions: 4 });
    expect(state?.likes.length).toBe(3);
    expect(r.index.affinity.get(viewer)?.get(a1)).toBe(2);
    expect(r.index.popularAuthors).toContain(popular);

    // Migrations: all already applied.
    expect(r.migrated.applied).toEqual([]);
    expect(r.migrated.alreadyApplied.length).toBeGreaterThan(0);
  });
});

describe("both spellings", () => {
  it("give the same answers to every read", () => {
    const quoted = results.get(1);
    const unquoted = results.get(0);
    expect(quoted && unquoted, "both settings ran").toBeTruthy();
    // The generators' Redis lists are compared as the JSON they were stored as.
    expect(unquoted).toEqual(quoted);
  });
});
