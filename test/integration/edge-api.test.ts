/**
 * The real worker (wrangler dev / workerd) against the real stack: writes go through the edge to
 * an origin write API on real PostgreSQL, CDC carries them to ClickHouse, and the feed is ranked
 * from there through the Redis bridge and the ClickHouse gateway. Every call goes through the
 * typed client (edge/client), as an API user's code would.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FeedItemOut } from "#core/feed/present.ts";
import { feedVersionKey, suggestKey } from "#core/keys.ts";
import { DEFAULT_WEIGHTS } from "#core/ranking/score.ts";
import { type ArgsParam, createClient, type OperationId } from "../../edge/client/index.ts";
import { type AnyRedis, unlinkKeys } from "../../origin/src/redis-cluster.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { startWranglerDev } from "../../scripts/lib/wrangler.ts";
import { devToken } from "../../scripts/token.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";

type FeedItem = FeedItemOut;

describe("edge API on the real stack", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  let redis: AnyRedis;
  const viewer = randomUUID();
  const authors = [randomUUID(), randomUUID(), randomUUID()];
  const fans = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const posts: { id: string; author: string }[] = [];
  /** The typed client for `user` (a development token) against the worker, or against `base`. */
  const clientFor = async (user: string, base?: string) =>
    createClient({ baseUrl: base ?? w.edge.url, token: await devToken(user, 3600, w.jwtSecret) });
  const api = async <Op extends OperationId>(user: string, op: Op, ...args: ArgsParam<Op>) =>
    (await clientFor(user)).send(op, ...args);
  type FeedQuery = { limit?: number; cursor?: string | null; explain?: boolean };
  const feed = async ({ cursor, ...query }: FeedQuery = {}, user = viewer) => {
    const res = await api(user, "getFeed", { query: { ...query, ...(cursor ? { cursor } : {}) } });
    if (!res.ok) expect.fail(`feed: ${res.status} ${res.error.code}: ${res.error.message}`);
    return { res: res.response, body: res.data as { items: FeedItem[]; next_cursor: string | null } };
  };
  const chCount = async (sql: string, params: Record<string, unknown>) =>
    Number(
      (await (await h.ch.query({ query: sql, query_params: params, format: "JSONEachRow" })).json<{ n: string }>())[0]
        ?.n ?? 0,
    );

  beforeAll(async () => {
    h = await startCdcHarness();
    // No serving index here: every feed is ranked from ClickHouse (the cold path).
    w = await startEdgeWorld(h);
    redis = w.redis;

    for (const [i, u] of [viewer, ...authors, ...fans].entries()) {
      const res = await api(u, "putProfile", { body: { handle: `e${h.id}_${i}` } });
      expect(res.status, JSON.stringify(res.ok ? res.data : res.error)).toBe(200);
    }
    for (const a of authors) expect((await api(viewer, "follow", { params: { user_id: a } })).status).toBe(204);
    for (const [i, a] of authors.entries()) {
      for (let k = 0; k < 3; k++) {
        const res = await api(a, "createPost", { body: { text: `post ${k} by author ${i}` } });
        if (!res.ok) expect.fail(`createPost: ${res.status} ${res.error.message}`);
        expect(res.status).toBe(201);
        posts.push({ id: res.data.post.id, author: a });
      }
    }
    // Engagement: post 0 gets 3 likes, post 3 gets 1 comment (weighs 2).
    for (const f of fans.slice(0, 3))
      expect((await api(f, "like", { params: { id: posts[0]?.id as string } })).status).toBe(204);
    expect(
      (
        await api(fans[3] as string, "createComment", {
          params: { id: posts[3]?.id as string },
          body: { text: "nice" },
        })
      ).status,
    ).toBe(201);
    const state = async () => ({
      posts: await chCount("SELECT count() AS n FROM posts_current WHERE deleted_at IS NULL", {}),
      likes: await chCount("SELECT sum(likes) AS n FROM post_metrics_1h", {}),
      comments: await chCount("SELECT sum(comments) AS n FROM post_metrics_1h", {}),
      follows: await chCount("SELECT count() AS n FROM follows_current WHERE follower_id = {v:UUID}", { v: viewer }),
    });
    const want = { posts: posts.length, likes: 3, comments: 1, follows: 3 };
    await waitFor(
      async () => JSON.stringify(await state()) === JSON.stringify(want),
      15_000,
      "writes to reach ClickHouse",
    ).catch(async (err) => {
      throw new Error(`${(err as Error).message}: have ${JSON.stringify(await state())}, want ${JSON.stringify(want)}`);
    });
  }, 240_000);

  afterAll(async () => {
    if (w) await unlinkKeys(w.redis, [viewer, ...authors, ...fans].map(suggestKey)).catch(() => {});
    await w?.stop();
    await h?.teardown();
  }, 60_000);

  it("ranks the followed authors' posts as the formula says, and explain matches it", async () => {
    const { res, body } = await feed({ limit: 100, explain: true });
    expect(res.headers.get("x-cache")).toBe("MISS");
    expect(res.headers.get("server-timing")).toMatch(/ch;dur=/);
    expect(new Set(body.items.map((i) => i.post_id))).toEqual(new Set(posts.map((p) => p.id)));
    const likes = new Map([[posts[0]?.id, 3]]);
    const comments = new Map([[posts[3]?.id, 1]]);
    const now = Date.now();
    for (const item of body.items) {
      const e = item.explain as NonNullable<FeedItem["explain"]>;
      const hours = (now - Date.parse(item.created_at)) / 3_600_000;
      expect(e.freshness).toBeCloseTo(Math.exp(-0.1 * hours), 2);
      expect(e.engagement).toBeCloseTo(
        Math.log1p(((likes.get(item.post_id) ?? 0) + 2 * (comments.get(item.post_id) ?? 0)) / 1),
        9,
      );
      expect(e.base_score).toBeCloseTo(
        DEFAULT_WEIGHTS.freshness * e.freshness +
          DEFAULT_WEIGHTS.engagement * e.engagement +
          DEFAULT_WEIGHTS.affinity * e.affinity,
        9,
      );
      expect(item.score).toBeCloseTo(e.base_score * e.diversity_multiplier, 9);
      expect(item.source).toBe("follow");
    }
    const scores = body.items.map((i) => i.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(body.items[0]?.post_id).toBe(posts[0]?.id); // 3 likes: the highest engagement
    // No serving index in this file: the ranking came from ClickHouse (the cold path).
    expect(res.headers.get("server-timing")).toMatch(/ch;dur=[\d.]+;desc="cold path"/);
    // The next page of that ranking is read from its snapshot.
    const first = await feed({ limit: 2 });
    const again = await feed({ limit: 2, cursor: first.body.next_cursor });
    expect(again.res.headers.get("x-cache")).toBe("HIT");
  });

  it("five pages in a row contain no duplicate", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5; page++) {
      const { body } = await feed({ limit: 2, cursor });
      seen.push(...body.items.map((i) => i.post_id));
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    expect(seen.length).toBe(Math.min(10, posts.length));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("an impression removes the post from the next ranking", async () => {
    const target = posts[5]?.id as string;
    const res = await api(viewer, "postEvents", { body: { events: [{ type: "impression", post_id: target }] } });
    expect(res.status).toBe(202);
    expect(res.ok && res.data).toEqual({ accepted: 1, rejected: [] });
    // Appended to the stream for the relay, with the user from the token and a server time.
    // One entry per request, holding the batch (field "b").
    const latest = (await redis.xrevrange(w.stream, "+", "-", "COUNT", 1))[0];
    expect(latest?.[1][0]).toBe("b");
    const batch = JSON.parse(latest?.[1][1] as string) as unknown[];
    expect(batch).toHaveLength(1);
    expect(batch[0]).toMatchObject({
      user_id: viewer,
      post_id: target,
      type: "impression",
    });
    const { body } = await feed({ limit: 100 });
    expect(body.items.map((i) => i.post_id)).not.toContain(target);
  });

  it("a like changes the post's engagement in the next ranking", async () => {
    const target = posts[7]?.id as string;
    const before = (await feed({ limit: 100, explain: true })).body.items.find((i) => i.post_id === target);
    expect(before?.explain?.engagement).toBe(0);
    expect((await api(viewer, "like", { params: { id: target } })).status).toBe(204);
    // The like invalidated the viewer's cache; CDC carries it to ClickHouse.
    await waitFor(
      async () => {
        const after = (await feed({ limit: 100, explain: true })).body.items.find((i) => i.post_id === target);
        return (after?.explain?.engagement ?? 0) > 0;
      },
      5000,
      "the like to show in the ranking",
    );
  });

  it("end to end through the edge only: a like and a comment reach a fresh ranking within 5 s; the liker's cache was invalidated", async () => {
    const target = posts[8]?.id as string;
    const warm = await feed({ limit: 100, explain: true });
    const before = warm.body.items.find((i) => i.post_id === target);
    expect(before?.explain?.engagement).toBe(0);
    expect((await api(viewer, "like", { params: { id: target } })).status).toBe(204);
    expect((await api(viewer, "createComment", { params: { id: target }, body: { text: "great post" } })).status).toBe(
      201,
    );
    // The write invalidated the cached ranking: the very next read is not served from it.
    const next = await feed({ limit: 100, explain: true });
    expect(next.res.headers.get("x-cache")).toBe("MISS");
    const t0 = Date.now();
    await waitFor(
      async () => {
        const item = (await feed({ limit: 100, explain: true })).body.items.find((i) => i.post_id === target);
        // 1 like + 2 × 1 comment over max(impressions, 1) = 3.
        return Math.abs((item?.explain?.engagement ?? 0) - Math.log1p(3)) < 1e-9;
      },
      5000,
      "the like and the comment in the ranking",
    );
    console.log(`like + comment visible in a fresh ranking after ${Date.now() - t0} ms`);
  });

  it("refuses invalid, expired and alg:none tokens with 401", async () => {
    const expired = await devToken(viewer, -120, w.jwtSecret);
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ sub: viewer, exp: 9e9 })).toString("base64url")}.`;
    const anonymous = createClient({ baseUrl: w.edge.url });
    for (const token of ["garbage", expired, none]) {
      const res = await anonymous.send("getFeed", { token });
      expect(res.status).toBe(401);
      expect(!res.ok && res.error.code).toBe("unauthorized");
    }
  });

  it("answers malformed event bodies with 400 naming the problem, an oversize one with 413", async () => {
    const u = fans[0] as string;
    // Bodies the client's types refuse, sent anyway (cast) to see the worker refuse them too.
    const cases: [unknown, RegExp][] = [
      [{ nope: 1 }, /events/],
      [{ events: [] }, /at least one/],
      [{ events: [{ type: "bogus", post_id: randomUUID() }] }, /no valid events/],
    ];
    for (const [body, message] of cases) {
      const res = await api(u, "postEvents", { body: body as never });
      expect(res.status).toBe(400);
      expect(!res.ok && res.error.message).toMatch(message);
    }
    const big = await api(u, "postEvents", {
      body: { events: [{ type: "view", post_id: randomUUID(), pad: "x".repeat(300_000) }] } as never,
    });
    expect(big.status).toBe(413);
    expect(!big.ok && big.error.code).toBe("payload_too_large");
  });

  it("answers STALE (not a 500) when ClickHouse is unreachable", async () => {
    const broken = await startWranglerDev({
      config: "wrangler.toml",
      vars: { ...w.vars, CLICKHOUSE_URL: "http://127.0.0.1:9" },
    });
    try {
      await redis.incr(feedVersionKey(viewer)); // the last snapshot may not be reused: a build is needed
      const res = await (await clientFor(viewer, broken.url)).send("getFeed", { query: { limit: 5 } });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-cache")).toBe("STALE");
      expect(res.ok && res.data.items.length).toBeGreaterThan(0);
    } finally {
      await broken.stop();
    }
  }, 120_000);
});
