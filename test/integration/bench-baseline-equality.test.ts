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
import { type CandidateRowLike, candidatesFromQuery } from "#core/feed/rows.ts";
import { hotPostIdsKey, seenKey } from "#core/keys.ts";
import { type RankedItem, rankFeed } from "#core/ranking/rank.ts";
import { FEED_CANDIDATES_SQL, FEED_QUERY_LIMITS } from "#core/sql/queries.ts";
import { generateHotPosts } from "../../origin/src/jobs/generators.ts";
import { type BaselineServer, prepareBaselineData, startBaseline } from "../../scripts/bench/baseline.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { devToken } from "../../scripts/token.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";

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
    // The export pages through event_id: in pages of 3 (7 statements, the last short) and of 4
    // (5 full pages, then an empty one) the tables come out the same.
    for (const exportChunkRows of [3, 4]) {
      const paged = await prepareBaselineData(h.pg, h.ch, { seenFromEvents: true, exportChunkRows });
      expect(paged.events).toBe(20);
      expect(await state()).toEqual(before);
    }
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

/**
 * The baseline's reads equal the edge's: one world written through the real worker (profiles,
 * posts, follows and an unfollow, likes with an author's own and an unlike, comments with a
 * deletion, a block, a rename, share events sent to both intakes), posts older than the index's
 * window written into PostgreSQL (the edge reads them from ClickHouse), and a user deletion. Once
 * the pipeline is idle, for every viewer: every profile (by id, `me` and `@handle`), every
 * author's posts, followers and following (all pages), every post and its comments (all pages,
 * both orders) answer the same status and the same body on both sides; and every post of the
 * baseline's feed is hydrated as the edge hydrates that post (author, counts, the viewer's state).
 */
describe("bench baseline reads as the edge", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  let server: BaselineServer;
  const names = ["ada", "bob", "cyd", "dan", "eve", "fay", "gus"] as const;
  const u = Object.fromEntries(names.map((n) => [n, randomUUID()])) as Record<(typeof names)[number], string>;
  const unknown = randomUUID();
  const posts: { id: string; author: string }[] = [];
  const comments: { id: string; author: string }[] = [];

  const edgeGet = async (viewer: string, path: string) => {
    const res = await w.api(viewer, "GET", path);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const baseGet = async (viewer: string, path: string) => {
    const res = await fetch(`${server.url}${path}`, {
      headers: { authorization: `Bearer ${await devToken(viewer, 3600, w.jwtSecret)}` },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /** A read's answer without what may differ by design: a list's cursors (opaque, each side's own). */
  const all = async (get: typeof edgeGet, viewer: string, path: string, limit: number) => {
    const items: unknown[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 100; i++) {
      const sep = path.includes("?") ? "&" : "?";
      const r = await get(viewer, `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
      if (r.status !== 200) return { status: r.status, error: (r.body as { error?: unknown }).error };
      items.push(...(r.body.items as unknown[]));
      cursor = r.body.next_cursor as string | null;
      if (!cursor) break;
    }
    return { status: 200, items };
  };
  const one = async (get: typeof edgeGet, viewer: string, path: string) => {
    const r = await get(viewer, path);
    return r.status === 200 ? { status: 200, body: r.body } : { status: r.status, error: r.body.error };
  };
  const nameOf = (id: string) => Object.entries(u).find(([, v]) => v === id)?.[0] ?? id.slice(0, 8);
  /** What the last comparison covered: reads compared, those answering 200, feed items compared. */
  const seen = { reads: 0, ok: 0, feedItems: 0 };

  /** Every read of every viewer on both sides; the differences, described. */
  async function differences(): Promise<string[]> {
    const diffs: string[] = [];
    Object.assign(seen, { reads: 0, ok: 0, feedItems: 0 });
    const same = (what: string, edge: unknown, base: unknown) => {
      seen.reads++;
      if ((edge as { status?: number }).status === 200) seen.ok++;
      const a = JSON.stringify(edge);
      const b = JSON.stringify(base);
      if (a === b) return;
      // A list: say where the two part (the first item that differs, and the lengths).
      const ei = (edge as { items?: unknown[] }).items;
      const bi = (base as { items?: unknown[] }).items;
      if (ei && bi) {
        const i = ei.findIndex((x, k) => JSON.stringify(x) !== JSON.stringify(bi[k]));
        const at = i < 0 ? Math.min(ei.length, bi.length) : i;
        diffs.push(
          `${what}: ${ei.length} items vs ${bi.length}; item ${at}:\n  edge     ${JSON.stringify(ei[at])}\n  baseline ${JSON.stringify(bi[at])}`,
        );
      } else diffs.push(`${what}:\n  edge     ${a.slice(0, 600)}\n  baseline ${b.slice(0, 600)}`);
    };
    const targets = [...Object.values(u), unknown];
    for (const [vn, v] of Object.entries(u)) {
      if (vn === "eve") continue; // deleted
      const both = async (what: string, read: (get: typeof edgeGet) => Promise<unknown>) =>
        same(`${what} as ${vn}`, await read(edgeGet), await read(baseGet));
      await both("profile me", (g) => one(g, v, "/api/v1/users/me"));
      for (const t of targets) {
        const tn = nameOf(t);
        await both(`profile ${tn}`, (g) => one(g, v, `/api/v1/users/${t}`));
        await both(`posts of ${tn}`, (g) => all(g, v, `/api/v1/users/${t}/posts`, 2));
        await both(`followers of ${tn}`, (g) => all(g, v, `/api/v1/users/${t}/followers`, 2));
        await both(`following of ${tn}`, (g) => all(g, v, `/api/v1/users/${t}/following`, 1));
      }
      for (const handle of [`cyd2_${h.id}`, `ADA_${h.id}`, `cyd_${h.id}`, `eve_${h.id}`]) {
        await both(`profile @${handle}`, (g) => one(g, v, `/api/v1/users/@${handle}`));
        await both(`posts of @${handle}`, (g) => all(g, v, `/api/v1/users/@${handle}/posts`, 3));
      }
      for (const p of [...posts, { id: unknown, author: unknown }]) {
        await both(`post ${p.id.slice(0, 8)} by ${nameOf(p.author)}`, (g) => one(g, v, `/api/v1/posts/${p.id}`));
        await both(`comments of ${p.id.slice(0, 8)}`, (g) => all(g, v, `/api/v1/posts/${p.id}/comments`, 2));
        await both(`newest comments of ${p.id.slice(0, 8)}`, (g) =>
          all(g, v, `/api/v1/posts/${p.id}/comments?order=newest`, 3),
        );
      }
      // Bad parameters and cursors are the same 400 (each side's cursor on its own side).
      for (const path of [
        `/api/v1/users/${u.ada}/posts?cursor=not-a-cursor`,
        "/api/v1/users/nobody/posts",
        `/api/v1/users/${u.ada}/followers?limit=0`,
        `/api/v1/posts/${posts[0]?.id}/comments?order=sideways`,
        "/api/v1/posts/not-a-uuid",
      ])
        await both(`bad request ${path}`, (g) => one(g, v, path));
      await both("another list's cursor", async (g) => {
        const first = await g(v, `/api/v1/users/${u.ada}/posts?limit=1`);
        return one(g, v, `/api/v1/users/${u.bob}/posts?cursor=${first.body.next_cursor}`);
      });
      // The baseline's feed is hydrated as the edge hydrates each of its posts.
      const feed = await baseGet(v, "/api/v1/feed?limit=100");
      expect(feed.status).toBe(200);
      for (const item of feed.body.items as Record<string, unknown>[]) {
        seen.feedItems++;
        const { source: _s, score: _c, ...post } = item;
        same(
          `feed item ${String(item.post_id).slice(0, 8)} as ${vn}`,
          await one(edgeGet, v, `/api/v1/posts/${item.post_id}`),
          {
            status: 200,
            body: post,
          },
        );
      }
      if (diffs.length > 10) break;
    }
    return diffs;
  }

  beforeAll(async () => {
    h = await startCdcHarness();
    w = await startEdgeWorld(h, { index: true, relay: true });
    for (const n of names) {
      const handle = n === "ada" ? `Ada_${h.id}` : `${n}_${h.id}`;
      await w.ok(
        w.api(u[n], "PUT", "/api/v1/users/me", { handle, display_name: `${n} display`, bio: `${n}'s bio` }),
        200,
      );
    }
    await waitFor(async () => (await w.redis.exists(w.keys.ready)) === 1, 60_000, "the index to be ready");
    const post = async (author: string, text: string) => {
      const res = await w.ok(w.api(author, "POST", "/api/v1/posts", { text }), 201);
      const id = ((await res.json()) as { post: { id: string } }).post.id;
      posts.push({ id, author });
      return id;
    };
    const ada = [await post(u.ada, "ada 0"), await post(u.ada, "ada 1"), await post(u.ada, "ada 2")];
    const bob = [await post(u.bob, "bob 0"), await post(u.bob, "bob 1")];
    const cyd = [await post(u.cyd, "cyd 0"), await post(u.cyd, "cyd 1"), await post(u.cyd, "cyd 2")];
    const eve0 = await post(u.eve, "eve 0");
    const gus0 = await post(u.gus, "gus 0");
    const fay0 = await post(u.fay, "fay 0");
    await w.ok(w.api(u.cyd, "DELETE", `/api/v1/posts/${cyd[2]}`), 204);
    // Older than the index's window: the edge takes these from ClickHouse.
    for (const [author, days] of [
      [u.ada, 10],
      [u.ada, 20],
      [u.bob, 12],
    ] as const) {
      const { rows } = await h.pg.query<{ id: string }>(
        "INSERT INTO posts (author_id, text, created_at) VALUES ($1, $2, now() - make_interval(days => $3)) RETURNING id::text",
        [author, `old post of ${nameOf(author)}, ${days} days`, days],
      );
      posts.push({ id: (rows[0] as { id: string }).id, author });
    }
    const oldAda = posts.find((p) => p.author === u.ada && !ada.includes(p.id))?.id as string;

    const follow = (a: string, b: string) => w.ok(w.api(a, "PUT", `/api/v1/follows/${b}`), 204);
    for (const [a, b] of [
      [u.bob, u.ada],
      [u.cyd, u.ada],
      [u.dan, u.ada],
      [u.eve, u.ada],
      [u.fay, u.ada],
      [u.gus, u.ada],
      [u.ada, u.bob],
      [u.ada, u.cyd],
      [u.ada, u.gus],
      [u.bob, u.cyd],
      [u.dan, u.cyd],
      [u.fay, u.bob],
      [u.eve, u.bob],
    ] as const)
      await follow(a, b);
    await w.ok(w.api(u.bob, "DELETE", `/api/v1/follows/${u.cyd}`), 204);

    const like = (who: string, p: string) => w.ok(w.api(who, "PUT", `/api/v1/posts/${p}/like`), 204);
    for (const who of [u.bob, u.cyd, u.dan, u.eve, u.gus]) await like(who, ada[0] as string);
    await like(u.ada, ada[0] as string); // the author's own: counted in the plain totals
    await like(u.fay, ada[1] as string);
    await like(u.bob, oldAda);
    await like(u.cyd, bob[0] as string);
    await like(u.ada, cyd[0] as string);
    await like(u.dan, eve0);
    await like(u.fay, gus0);
    await w.ok(w.api(u.gus, "DELETE", `/api/v1/posts/${ada[0]}/like`), 204);

    const comment = async (who: string, p: string, text: string) => {
      const res = await w.ok(w.api(who, "POST", `/api/v1/posts/${p}/comments`, { text }), 201);
      const id = ((await res.json()) as { comment: { id: string } }).comment.id;
      comments.push({ id, author: who });
      return id;
    };
    for (const who of [u.bob, u.cyd, u.eve, u.gus, u.ada, u.fay, u.dan])
      await comment(who, ada[0] as string, `${nameOf(who)} on ada 0`);
    const gone = await comment(u.dan, ada[0] as string, "taken back");
    await w.ok(w.api(u.dan, "DELETE", `/api/v1/comments/${gone}`), 204);
    await comment(u.ada, oldAda, "on an old post");
    await comment(u.bob, bob[1] as string, "own comment");
    await comment(u.gus, fay0, "gus on fay");

    await w.ok(w.api(u.fay, "PUT", `/api/v1/blocks/${u.gus}`), 204);
    await w.ok(
      w.api(u.cyd, "PUT", "/api/v1/users/me", { handle: `cyd2_${h.id}`, display_name: "Cyd renamed", bio: "new bio" }),
      200,
    );

    server = await startBaseline({ databaseUrl: h.config.databaseUrl, jwtSecret: w.jwtSecret, port: 0, poolSize: 2 });
    // Shares, counted once per (user, post) and never the author's own, through both intakes.
    const shares: [string, string][] = [
      [u.bob, ada[0] as string],
      [u.bob, ada[0] as string],
      [u.cyd, ada[0] as string],
      [u.ada, ada[0] as string],
      [u.dan, bob[0] as string],
    ];
    for (const [who, p] of shares) {
      const body = { events: [{ event_id: randomUUID(), type: "share", post_id: p, ts: Date.now() }] };
      await w.ok(w.api(who, "POST", "/api/v1/events", body), 202);
      const res = await fetch(`${server.url}/api/v1/events`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${await devToken(who, 3600, w.jwtSecret)}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(202);
    }
    // One user goes (no API for it: as an operator would).
    await h.pg.query("UPDATE users SET deleted_at = now() WHERE id = $1", [u.eve]);
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    await w?.stop();
    await h?.teardown();
  }, 60_000);

  it("every read of every viewer answers the same on both sides, and the baseline's feed items are hydrated as the edge's posts", async () => {
    let last: string[] = [];
    await waitFor(
      async () => {
        last = await differences();
        return last.length === 0;
      },
      90_000,
      "the baseline's reads to equal the edge's",
      500,
    ).catch(() => {});
    expect(last).toEqual([]);
    console.log(`reads compared: ${JSON.stringify(seen)}`);
    expect(seen.ok).toBeGreaterThan(300);
    expect(seen.reads - seen.ok).toBeGreaterThan(50); // the 404s agree too
    expect(seen.feedItems).toBeGreaterThan(10);
    // The world is not trivial: a page of comments shows the rules at work.
    const thread = await baseGet(u.ada, `/api/v1/posts/${posts[0]?.id}/comments?limit=100`);
    const commenters = (thread.body.items as { author: { id: string } }[]).map((c) => nameOf(c.author.id));
    expect(commenters).toEqual(["bob", "cyd", "gus", "ada", "fay", "dan"]); // eve is gone, dan's second taken back
    const asFay = await baseGet(u.fay, `/api/v1/posts/${posts[0]?.id}/comments?limit=100`);
    expect((asFay.body.items as { author: { id: string } }[]).map((c) => nameOf(c.author.id))).not.toContain("gus");
    const ada0 = await baseGet(u.bob, `/api/v1/posts/${posts[0]?.id}`);
    expect(ada0.body.counts).toEqual({ likes: 5, comments: 7, shares: 2 }); // eve's like and comment stay counted
    expect((await baseGet(u.fay, `/api/v1/users/${u.gus}`)).status).toBe(404);
    expect((await baseGet(u.gus, `/api/v1/posts/${posts.find((p) => p.author === u.fay)?.id}`)).status).toBe(404);
  }, 300_000);
});
