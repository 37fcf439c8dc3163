/**
 * The bench baseline ranks exactly as the product: one small world written to PostgreSQL (the
 * source of truth of both), the same events sent through both intakes (the product's: the
 * `events` Kafka topic as the relay writes it, plus the seen set the edge keeps; the baseline's:
 * POST /api/v1/events), and once both are idle, for every viewer, the baseline's
 * /api/v1/feed equals the product's ranking built from the ClickHouse path (FEED_CANDIDATES_SQL
 * + the seen set, ranked by rankFeed, trending from generateHotPosts) in ids, order, sources
 * and scores to 1e-9. Both are ranked at the same pinned instant. The world includes the rules
 * both must apply the same way: own likes and comments count toward nothing, and a followee's
 * post younger than 2 h is lifted into the first 50 (the viewer "heavy", who follows "prolific").
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CandidateRowLike,
  candidatesFromQuery,
  FEED_CANDIDATES_SQL,
  FEED_QUERY_LIMITS,
  hotPostIdsKey,
  type RankedItem,
  rankFeed,
  seenKey,
} from "../../edge/core/index.ts";
import { generateHotPosts } from "../../origin/src/jobs/generators.ts";
import { type BaselineServer, prepareBaselineData, startBaseline } from "../../scripts/bench/baseline.ts";
import { type CdcHarness, startCdcHarness, waitFor } from "./support/cdc.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const SECRET = "bench-baseline-equality-secret-0123456789-abcdef";
const HOUR = 3_600_000;
/** Both sides rank at this instant (the product's windows use ClickHouse's clock: no post is near one). */
const T = Math.floor(Date.now() / 1000) * 1000;

async function tokenFor(userId: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(SECRET));
}

interface FeedItem {
  post_id: string;
  author_id: string;
  created_at: string;
  text: string;
  source: string;
  score: number;
}

describe("bench baseline ranks as the product", () => {
  let h: CdcHarness;
  let redis: Redis;
  let server: BaselineServer;
  const hotKey = `t${randomUUID().slice(0, 8)}:hot`;
  const names = [
    "viewer",
    "cold",
    "a1",
    "a2",
    "a3",
    "f1",
    "f2",
    "f3",
    "gone",
    "blocked",
    "blocker",
    "fan",
    "heavy",
    "prolific",
    "liker",
  ];
  const u = Object.fromEntries(names.map((n) => [n, randomUUID()])) as Record<string, string>;
  const viewers = Object.values(u);
  const posts: Record<string, string> = {};
  const sql = (text: string, params: unknown[] = []) => h.pg.query(text, params);
  const post = async (name: string, author: string, ageH: number, deleted = false) => {
    const r = await sql(
      "INSERT INTO posts (author_id, text, created_at) VALUES ($1, $2, to_timestamp($3 / 1000.0)) RETURNING id",
      [author, `post ${name}`, T - ageH * HOUR],
    );
    posts[name] = r.rows[0].id as string;
    if (deleted) await sql("UPDATE posts SET deleted_at = now() WHERE id = $1", [posts[name]]);
  };

  /** The product's ranking for `viewer`: the ClickHouse path + the seen set, ranked at T. */
  const product = async (viewer: string): Promise<RankedItem[]> => {
    const rs = await h.ch.query({
      query: FEED_CANDIDATES_SQL,
      query_params: { viewer, ...FEED_QUERY_LIMITS },
      format: "JSONEachRow",
    });
    const c = candidatesFromQuery(await rs.json<CandidateRowLike>(), await redis.zrange(seenKey(viewer), 0, -1));
    return rankFeed(
      c.bySource,
      { viewerId: viewer, blockedAuthorIds: c.blockedAuthorIds, seenPostIds: c.seenPostIds },
      T,
    );
  };
  const baseline = async (viewer: string): Promise<FeedItem[]> => {
    const res = await fetch(`${server.url}/api/v1/feed?limit=100`, {
      headers: { authorization: `Bearer ${await tokenFor(viewer)}` },
    });
    if (res.status !== 200) throw new Error(`baseline feed answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { items: FeedItem[] }).items;
  };
  const nameOf = (postId: string) => Object.entries(posts).find(([, id]) => id === postId)?.[0] ?? postId;
  /** Every difference between the two rankings, per viewer (empty when they agree). */
  const differences = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const [name, v] of Object.entries(u)) {
      const ours = await product(v);
      const theirs = await baseline(v);
      const show = (xs: { id: string; source: string }[]) => xs.map((x) => `${nameOf(x.id)}/${x.source}`).join(",");
      const a = show(ours.map((i) => ({ id: i.postId, source: i.source })));
      const b = show(theirs.map((i) => ({ id: i.post_id, source: i.source })));
      if (a !== b) {
        out.push(`${name}: product [${a}] vs baseline [${b}]`);
        continue;
      }
      ours.forEach((x, k) => {
        const y = theirs[k] as FeedItem;
        if (Math.abs(x.score - y.score) > 1e-9) out.push(`${name} ${nameOf(x.postId)}: ${x.score} vs ${y.score}`);
        if (x.text !== y.text || new Date(x.createdAtMs).toISOString() !== y.created_at || x.authorId !== y.author_id)
          out.push(`${name} ${nameOf(x.postId)}: text, time or author differ`);
      });
    }
    return out;
  };

  beforeAll(async () => {
    h = await startCdcHarness();
    redis = new Redis(REDIS_URL);
    for (const [name, id] of Object.entries(u)) {
      await sql("INSERT INTO users (id, handle) VALUES ($1, $2)", [id, `${name}_${h.id}`]);
    }
    const follow = (a: string, b: string) =>
      sql("INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)", [a, b]);
    for (const f of [u.a1, u.a2, u.gone, u.blocked, u.blocker]) await follow(u.viewer as string, f as string);
    for (const f of [u.f1, u.f2, u.f3]) await follow(f as string, u.a1 as string);
    await follow(u.fan as string, u.a3 as string);
    await follow(u.heavy as string, u.prolific as string);
    await follow(u.fan as string, u.a2 as string);
    await sql("UPDATE follows SET deleted_at = now() WHERE follower_id = $1 AND followee_id = $2", [u.fan, u.a2]);

    await post("a1p0", u.a1 as string, 2);
    await post("a1p1", u.a1 as string, 5);
    await post("a1p2", u.a1 as string, 10);
    await post("a1old", u.a1 as string, 80); // past F1's 72 h, within F3's 7 days
    await post("a2p0", u.a2 as string, 3);
    await post("a2p1", u.a2 as string, 4, true);
    await post("a3p0", u.a3 as string, 30);
    await post("a3p1", u.a3 as string, 100);
    await post("a3p2", u.a3 as string, 1);
    await post("gone0", u.gone as string, 1);
    await post("blocked0", u.blocked as string, 1);
    await post("blocker0", u.blocker as string, 1);
    await post("own0", u.viewer as string, 1);
    await post("fan0", u.fan as string, 6);
    // prolific's 55 posts, 25 to 68.2 h old, each liked once (by liker), all above the new one.
    for (let k = 0; k < 55; k++) await post(`pro${k}`, u.prolific as string, 25 + k * 0.8);
    await post("proNew", u.prolific as string, 1); // no engagement: lifted to heavy's 50th
    await post("proOld", u.prolific as string, 2.5); // no engagement, past 2 h: not lifted

    const like = (user: string, p: string) =>
      sql("INSERT INTO likes (user_id, post_id) VALUES ($1, $2)", [user, posts[p]]);
    for (const f of [u.f1, u.f2, u.f3]) await like(f as string, "a1p0");
    await like(u.viewer as string, "a3p0");
    await like(u.viewer as string, "own0"); // own like: neither engagement nor affinity
    await like(u.f1 as string, "a2p1");
    await like(u.a1 as string, "a1p0"); // own like: no engagement
    await like(u.a2 as string, "a2p0"); // own like: no engagement, a2p0 is followed by viewer
    for (let k = 0; k < 55; k++) await like(u.liker as string, `pro${k}`);
    await like(u.cold as string, "a1old");
    await like(u.fan as string, "a3p2");
    await like(u.f2 as string, "gone0");
    await like(u.f2 as string, "blocked0");
    await like(u.f1 as string, "a2p0");
    await sql("UPDATE likes SET deleted_at = now() WHERE user_id = $1 AND post_id = $2", [u.f1, posts.a2p0]); // unliked
    const comment = (user: string, p: string) =>
      sql("INSERT INTO comments (post_id, author_id, text) VALUES ($1, $2, 'c') RETURNING id", [posts[p], user]);
    await comment(u.viewer as string, "a3p1");
    await comment(u.f3 as string, "a2p0");
    await comment(u.fan as string, "a1p2");
    await comment(u.a3 as string, "a3p2"); // own comment: no engagement
    await comment(u.viewer as string, "own0"); // own comment: nothing
    const gone = await comment(u.viewer as string, "a2p0");
    await sql("UPDATE comments SET deleted_at = now() WHERE id = $1", [gone.rows[0].id]);
    await sql("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)", [u.viewer, u.blocked]);
    await sql("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)", [u.blocker, u.viewer]);
    await sql("UPDATE users SET deleted_at = now() WHERE id = $1", [u.gone]);

    server = await startBaseline({
      databaseUrl: h.config.databaseUrl,
      jwtSecret: SECRET,
      port: 0,
      poolSize: 2,
      now: () => T,
      trendingRefreshMs: 3_600_000,
    });

    // The sink decides who authored an event's post from ClickHouse: the posts first.
    await waitFor(
      async () => {
        const rs = await h.ch.query({ query: "SELECT count() AS n FROM posts_current", format: "JSONEachRow" });
        return Number((await rs.json<{ n: string }>())[0]?.n) === Object.keys(posts).length;
      },
      60_000,
      "the posts in ClickHouse",
    );

    /** [user, post, type]: each user's events are one request to the baseline. */
    const events: [string, string, string][] = [
      [u.f1 as string, "a1p1", "share"],
      [u.f1 as string, "a1p1", "share"],
      [u.f1 as string, "a1p1", "share"],
      [u.f2 as string, "a2p0", "click"],
      [u.f2 as string, "a1p2", "impression"],
      [u.viewer as string, "a3p1", "click"],
      [u.viewer as string, "a3p1", "share"],
      [u.viewer as string, "a3p2", "click"],
      [u.viewer as string, "a1p0", "impression"],
      [u.viewer as string, "a1p0", "impression"],
      [u.viewer as string, "a2p0", "view"],
      [u.f3 as string, "a1p0", "impression"],
      [u.f3 as string, "a2p0", "impression"],
      [u.f3 as string, "a1old", "click"],
      [u.a1 as string, "a1p0", "share"], // own: not counted
      [u.a1 as string, "a1p0", "impression"],
      [u.cold as string, "a1old", "share"],
      [u.cold as string, "fan0", "impression"],
      [u.fan as string, "a3p2", "share"],
      [u.fan as string, "a1p2", "dwell"],
    ];
    const withIds = events.map(([user, p, type]) => ({
      event_id: randomUUID(),
      user,
      post_id: posts[p] as string,
      type,
    }));
    const producer = h.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic: h.topic("events"),
      acks: -1,
      messages: withIds.map((e) => ({
        key: e.user,
        value: JSON.stringify({
          event_id: e.event_id,
          user_id: e.user,
          post_id: e.post_id,
          type: e.type,
          client_ts: T,
          received_at: T,
          dwell_ms: e.type === "dwell" ? 1200 : 0,
        }),
      })),
    });
    await producer.disconnect();
    // The edge's seen set: every accepted impression.
    for (const e of withIds) if (e.type === "impression") await redis.zadd(seenKey(e.user), T, e.post_id);
    for (const user of new Set(withIds.map((e) => e.user))) {
      const mine = withIds.filter((e) => e.user === user);
      const res = await fetch(`${server.url}/api/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${await tokenFor(user)}`, "content-type": "application/json" },
        body: JSON.stringify({
          events: mine.map((e) => ({
            event_id: e.event_id,
            post_id: e.post_id,
            type: e.type,
            ts: T,
            ...(e.type === "dwell" ? { dwell_ms: 1200 } : {}),
          })),
        }),
      });
      expect(res.status).toBe(202);
    }
    await waitFor(
      async () => {
        const rs = await h.ch.query({ query: "SELECT count() AS n FROM events_raw", format: "JSONEachRow" });
        return Number((await rs.json<{ n: string }>())[0]?.n) === events.length;
      },
      60_000,
      "the events in ClickHouse",
    );
    await server.refreshTrending();
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    if (redis) {
      await redis.del(hotKey, hotPostIdsKey(hotKey), ...viewers.map(seenKey));
      redis.disconnect();
    }
    await h?.teardown();
  }, 60_000);

  it("once both are idle, every viewer's baseline feed equals the product's ranking (ids, order, sources, scores)", async () => {
    // Idle: the product's CDC changes have all reached ClickHouse (polled), then its hot list.
    let last: string[] = [];
    await waitFor(
      async () => {
        await generateHotPosts({ ch: h.ch, redis, hotKey, now: () => T });
        last = await differences();
        return last.length === 0;
      },
      60_000,
      "the baseline to rank as the product",
    ).catch((err) => {
      throw new Error(`${(err as Error).message}:\n${last.join("\n")}`);
    });
    // The world is not trivial: every source and rule shows up somewhere.
    const all = new Map<string, RankedItem[]>();
    for (const [name, v] of Object.entries(u)) all.set(name, await product(v));
    const sources = new Set([...all.values()].flat().map((i) => i.source));
    expect(sources).toEqual(new Set(["follow", "trending", "affinity"]));
    const viewerFeed = (all.get("viewer") ?? []).map((i) => nameOf(i.postId));
    for (const hidden of ["a1p0", "a2p1", "gone0", "blocked0", "blocker0", "own0"])
      expect(viewerFeed).not.toContain(hidden);
    expect(viewerFeed).toContain("a3p1"); // affinity (F3), 100 h old
    expect((all.get("cold") ?? []).length).toBeGreaterThan(0);
    // heavy: without the lift proNew would come after prolific's 55 liked posts; it is 50th,
    // and proOld (2.5 h) is not lifted.
    const heavyFeed = (all.get("heavy") ?? []).map((i) => nameOf(i.postId));
    expect(heavyFeed.length).toBeGreaterThan(57);
    expect(heavyFeed[49]).toBe("proNew");
    expect(heavyFeed.indexOf("proOld")).toBeGreaterThan(heavyFeed.indexOf("pro54"));
    expect([...all.values()].filter((l) => l.length > 0).length).toBeGreaterThanOrEqual(8);
  });

  it("prepareBaselineData rebuilds the same event tables from ClickHouse's events_raw (as after a bulk load)", async () => {
    const state = async () => {
      const out: Record<string, unknown[]> = {};
      for (const [table, cols] of [
        ["bench_events", "event_id, user_id, post_id, type, dwell_ms, client_ts, received_at"],
        ["bench_counted_keys", "user_id, post_id, type, day, first_at"],
        ["bench_post_counters", "post_id, impressions, views, clicks, shares, dwell_ms"],
        ["bench_user_author_days", "user_id, author_id, day, n"],
      ] as const) {
        out[table] = (await sql(`SELECT ${cols} FROM ${table} ORDER BY ${cols}`)).rows;
      }
      return out;
    };
    const before = await state();
    expect(before.bench_events).toHaveLength(20);
    const result = await prepareBaselineData(h.pg, h.ch, { seenFromEvents: true });
    expect(result.events).toBe(20);
    expect(await state()).toEqual(before);
    // Seen as the intake marks it: every impression (once per (user, post)).
    const seen = (await sql("SELECT user_id::text, post_id::text FROM bench_seen ORDER BY 1, 2")).rows;
    const want = new Set<string>();
    for (const v of viewers)
      for (const p of await redis.zrange(seenKey(v), 0, -1)) want.add(JSON.stringify({ user_id: v, post_id: p }));
    expect(seen.map((r) => JSON.stringify(r)).sort()).toEqual([...want].sort());
    await server.refreshTrending();
    expect(await differences()).toEqual([]);
  });
});
