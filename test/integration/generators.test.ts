/**
 * Each generator's output against an independent computation: a seeded dataset written to
 * PostgreSQL (carried to ClickHouse by the real CDC pipeline) plus seeded events, then the
 * generator's Redis output compared with what plain SQL on PostgreSQL says it should be.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hotPostIdsKey, indexKeys, snapshotKey, snapshotPointerKey, suggestKey } from "#core/keys.ts";
import type { RankedItem } from "#core/ranking/rank.ts";
import { suggestionsFromRows } from "#core/reads/suggestions.ts";
import { decodeSnapshotItem } from "#core/serving/snapshot.ts";
import { chDateTime64 } from "#core/sql/clickhouse-time.ts";
import { SUGGESTED_USERS_SQL } from "#core/sql/queries.ts";
import { buildFallbackSnapshot, generateHotPosts, generateSuggestions } from "../../origin/src/jobs/generators.ts";
import { rng } from "../../scripts/lib/rng.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

describe("generators on a seeded dataset", () => {
  let h: CdcHarness;
  let redis: Redis;
  const hotKey = `t:hot:${randomBytes(4).toString("hex")}`;
  const users = Array.from({ length: 30 }, () => randomUUID());
  const touched: string[] = [];
  let seededEvents: { post_id: string; type: string }[] = [];

  beforeAll(async () => {
    h = await startCdcHarness();
    redis = new Redis(REDIS_URL);
    const rand = rng(42);
    const q = (sql: string, p: unknown[]) => h.pg.query(sql, p);
    for (const [i, u] of users.entries()) await q("INSERT INTO users (id, handle) VALUES ($1, $2)", [u, `g${i}`]);
    // Follows: each user follows 3-6 others; posts: 2 per user over the last 30 h.
    for (const u of users) {
      const n = 3 + Math.floor(rand() * 4);
      for (let k = 0; k < n; k++) {
        const v = users[Math.floor(rand() * users.length)] as string;
        if (v !== u)
          await q("INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [u, v]);
      }
    }
    const posts: string[] = [];
    for (const u of users) {
      for (let k = 0; k < 2; k++) {
        const id = randomUUID();
        posts.push(id);
        await q(
          "INSERT INTO posts (id, author_id, text, created_at) VALUES ($1, $2, 'p', now() - make_interval(mins => $3))",
          [id, u, Math.floor(rand() * 30 * 60)],
        );
      }
    }
    for (let k = 0; k < 120; k++) {
      const u = users[Math.floor(rand() * users.length)] as string;
      const p = posts[Math.floor(rand() * posts.length)] as string;
      await q("INSERT INTO likes (user_id, post_id) SELECT $1, $2 ON CONFLICT DO NOTHING", [u, p]);
    }
    for (let k = 0; k < 40; k++) {
      await q("INSERT INTO comments (post_id, author_id, text) VALUES ($1, $2, 'c')", [
        posts[Math.floor(rand() * posts.length)],
        users[Math.floor(rand() * users.length)],
      ]);
    }
    // Seeded events straight into events_raw (the relay path has its own tests).
    const now = Date.now();
    const events = Array.from({ length: 600 }, () => ({
      event_id: randomUUID(),
      user_id: users[Math.floor(rand() * users.length)] as string,
      post_id: posts[Math.floor(rand() * posts.length)] as string,
      author_id: "00000000-0000-0000-0000-000000000000",
      type: rand() < 0.8 ? "impression" : "share",
      dwell_ms: 0,
      client_ts: chDateTime64(now - 60_000),
      received_at: chDateTime64(now - 60_000),
    }));
    await h.ch.insert({ table: "events_raw", values: events, format: "JSONEachRow" });
    const pgCounts = (
      await q(
        // The author's own likes and comments count toward nothing in ranking (post_metrics_1h).
        "SELECT (SELECT count(*) FROM likes WHERE deleted_at IS NULL AND user_id <> post_author_id) AS l, (SELECT count(*) FROM comments WHERE deleted_at IS NULL AND author_id <> post_author_id) AS c",
        [],
      )
    ).rows[0];
    const want = `${pgCounts.l}/${pgCounts.c}`;
    await waitFor(
      async () => {
        const rs = await h.ch.query({
          query: "SELECT sum(likes) AS l, sum(comments) AS c FROM post_metrics_1h",
          format: "JSONEachRow",
        });
        const r = (await rs.json<{ l: string; c: string }>())[0];
        return `${r?.l}/${r?.c}` === want;
      },
      20_000,
      "likes and comments to reach ClickHouse",
    );
    seededEvents = events;
  }, 240_000);

  afterAll(async () => {
    if (redis) {
      await redis.del(hotKey, hotPostIdsKey(hotKey), ...touched);
      redis.disconnect();
    }
    await h?.teardown();
  }, 60_000);

  it("hot posts: the posts of the last 24 h with engagement, each scored by the formula", async () => {
    const events = seededEvents;
    const counts = await h.pg.query<{ id: string; created: Date; likes: string; comments: string }>(
      `SELECT p.id, p.created_at AS created,
         (SELECT count(*) FROM likes l WHERE l.post_id = p.id AND l.deleted_at IS NULL AND l.user_id <> p.author_id) AS likes,
         (SELECT count(*) FROM comments c WHERE c.post_id = p.id AND c.deleted_at IS NULL AND c.author_id <> p.author_id) AS comments
       FROM posts p WHERE p.deleted_at IS NULL AND p.created_at >= now() - interval '24 hours'`,
    );
    const shares = new Map<string, number>();
    const imps = new Map<string, number>();
    for (const e of events) {
      const m = e.type === "share" ? shares : imps;
      m.set(e.post_id, (m.get(e.post_id) ?? 0) + 1);
    }
    const now = Date.now();
    const expected = new Map<string, number>();
    for (const r of counts.rows) {
      const weighted = Number(r.likes) + 2 * Number(r.comments) + 3 * (shares.get(r.id) ?? 0);
      if (weighted === 0) continue;
      const hours = (now - r.created.getTime()) / 3_600_000;
      expected.set(r.id, 0.3 * Math.exp(-0.1 * hours) + 0.4 * Math.log1p(weighted / Math.max(imps.get(r.id) ?? 0, 1)));
    }
    const result = await generateHotPosts({ ch: h.ch, redis, hotKey });
    const hot = JSON.parse((await redis.get(hotKey)) as string) as RankedItem[];
    expect(result.hot).toBe(hot.length);
    expect(new Set(hot.map((i) => i.postId))).toEqual(new Set(expected.keys()));
    for (const item of hot) {
      expect(item.explain.score).toBeCloseTo(expected.get(item.postId) as number, 3);
    }
    // Feed misses read the ids-only companion: the same posts in the same order, same TTL.
    expect(JSON.parse((await redis.get(hotPostIdsKey(hotKey))) as string)).toEqual(
      hot.map((i) => [i.postId, i.authorId]),
    );
    expect(await redis.ttl(hotPostIdsKey(hotKey))).toBeGreaterThan(60);
  });

  it("suggested users: people your follows follow, ranked by how many of them do", async () => {
    const viewer = users[0] as string;
    const expected = await h.pg.query<{ id: string; n: string }>(
      `SELECT f2.followee_id AS id, count(*) AS n
       FROM follows f1 JOIN follows f2 ON f2.follower_id = f1.followee_id AND f2.deleted_at IS NULL
       WHERE f1.follower_id = $1 AND f1.deleted_at IS NULL AND f2.followee_id <> $1
         AND f2.followee_id NOT IN (SELECT followee_id FROM follows WHERE follower_id = $1 AND deleted_at IS NULL)
       GROUP BY f2.followee_id ORDER BY count(*) DESC, f2.followee_id::text`,
      [viewer],
    );
    await generateSuggestions({ ch: h.ch, redis }, { maxUsers: 100 });
    touched.push(...users.map(suggestKey));
    const got = JSON.parse((await redis.get(suggestKey(viewer))) as string) as {
      user_id: string;
      score: number;
      reason: string;
    }[];
    const fof = got.filter((s) => s.reason === "followed_by_your_follows");
    expect(fof.map((s) => [s.user_id, s.score])).toEqual(expected.rows.slice(0, 20).map((r) => [r.id, Number(r.n)]));
    // The generator's batched query answers exactly what the edge's per-user query answers,
    // for every user it wrote (batches of 7, so several batches run).
    await generateSuggestions({ ch: h.ch, redis }, { maxUsers: 100, batchSize: 7 });
    for (const u of users) {
      const cached = await redis.get(suggestKey(u));
      if (cached === null) continue;
      const live = await (
        await h.ch.query({ query: SUGGESTED_USERS_SQL, query_params: { viewer: u, limit: 20 }, format: "JSONEachRow" })
      ).json<{ user_id: string; score: number; reason: string }>();
      expect(JSON.parse(cached)).toEqual(suggestionsFromRows(live));
    }
  });

  it("fallback snapshots: the followees' recent posts, minus the viewer's own, ranked like the edge, saved as the viewer's newest snapshot", async () => {
    const viewer = users[1] as string;
    // A namespace with no index: the job takes the ClickHouse path, as the edge would.
    const snapshot = await buildFallbackSnapshot({ ch: h.ch, redis, keys: indexKeys(`t${h.id}:`) }, viewer);
    const entry = snapshot;
    expect(snapshot.meta.path).toBe("clickhouse");
    touched.push(snapshotKey(viewer, snapshot.meta.rankingId), snapshotPointerKey(viewer));
    const follow = await h.pg.query<{ id: string }>(
      `SELECT p.id FROM posts p JOIN follows f ON f.followee_id = p.author_id AND f.follower_id = $1 AND f.deleted_at IS NULL
       WHERE p.deleted_at IS NULL AND p.created_at >= now() - interval '72 hours' AND p.author_id <> $1`,
      [viewer],
    );
    const followIds = new Set(follow.rows.map((r) => r.id));
    const fromFollow = entry.items.filter((i) => i.source === "follow").map((i) => i.postId);
    expect(new Set(fromFollow)).toEqual(followIds);
    expect(entry.items.every((i) => i.authorId !== viewer)).toBe(true);
    const pointer = JSON.parse((await redis.get(snapshotPointerKey(viewer))) as string) as { rankingId: string };
    expect(pointer.rankingId).toBe(snapshot.meta.rankingId);
    const stored = await redis.lrange(snapshotKey(viewer, pointer.rankingId), 1, -1);
    expect(stored.map((i) => decodeSnapshotItem(i)?.postId)).toEqual(entry.items.map((i) => i.postId));
  });
});
