/**
 * The serving index on the real pipeline (PostgreSQL → Debezium → Kafka → updater → Redis,
 * beside the sink → ClickHouse): once idle, the ranking built from the index equals the one
 * built from ClickHouse for every viewer; a replay from the first offset changes nothing; a
 * flushed index is rebuilt from ClickHouse; and `check:index` agrees.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CandidateRowLike,
  candidatesFromQuery,
  FEED_CANDIDATES_SQL,
  FEED_QUERY_LIMITS,
  type IndexCandidates,
  indexKeys,
  loadFromIndex,
  type PipelineExec,
  type RankedItem,
  rankFeed,
  seenKey,
} from "../../edge/core/index.ts";
import { checkIndex } from "../../origin/src/index/check.ts";
import { ioredisExec } from "../../origin/src/index/exec.ts";
import { refreshPopularAuthors } from "../../origin/src/index/refresh.ts";
import { ServingIndex } from "../../origin/src/index/serving-index.ts";
import { generateHotPosts } from "../../origin/src/jobs/generators.ts";
import { type CdcHarness, startCdcHarness, waitFor } from "./support/cdc.ts";
import { dropKeys } from "./support/edge-world.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

describe("serving index", () => {
  let h: CdcHarness;
  let redis: Redis;
  let index: ServingIndex;
  const ns = `t${randomUUID().slice(0, 8)}:`;
  const keys = indexKeys(ns);
  const u = Object.fromEntries(
    ["viewer", "cold", "a1", "a2", "a3", "f1", "f2", "f3", "gone", "blocked", "blocker"].map((n) => [n, randomUUID()]),
  ) as Record<string, string>;
  const viewers = Object.values(u);
  const posts: Record<string, string> = {};

  const exec: PipelineExec = (cmds) => ioredisExec(redis)(cmds);
  const sql = (text: string, params: unknown[] = []) => h.pg.query(text, params);
  const post = async (name: string, author: string) => {
    const r = await sql("INSERT INTO posts (author_id, text) VALUES ($1, $2) RETURNING id", [author, `post ${name}`]);
    posts[name] = r.rows[0].id as string;
  };
  const producer = () => h.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const sendEvents = async (list: [string, string, string][]) => {
    const p = producer();
    await p.connect();
    const now = Date.now();
    await p.send({
      topic: h.topic("events"),
      acks: -1,
      messages: list.map(([user, post, type]) => ({
        key: user,
        value: JSON.stringify({
          event_id: randomUUID(),
          user_id: user,
          post_id: post,
          type,
          client_ts: now,
          received_at: now,
          dwell_ms: 0,
        }),
      })),
    });
    await p.disconnect();
  };

  const chCandidates = async (viewer: string): Promise<IndexCandidates> => {
    const rs = await h.ch.query({
      query: FEED_CANDIDATES_SQL,
      query_params: { viewer, ...FEED_QUERY_LIMITS },
      format: "JSONEachRow",
    });
    return candidatesFromQuery(await rs.json<CandidateRowLike>(), await redis.zrange(seenKey(viewer), 0, -1));
  };
  const rank = (c: IndexCandidates, viewer: string, now: number) =>
    rankFeed(c.bySource, { viewerId: viewer, blockedAuthorIds: c.blockedAuthorIds, seenPostIds: c.seenPostIds }, now);
  /** Differences between the two rankings of every viewer (empty when they agree to 1e-9). */
  const differences = async (): Promise<string[]> => {
    const out: string[] = [];
    const now = Date.now();
    for (const v of viewers) {
      const fromIndex = await loadFromIndex(exec, keys, v, seenKey(v), now);
      if (!fromIndex) return ["index not ready"];
      const a = rank(fromIndex, v, now);
      const b = rank(await chCandidates(v), v, now);
      const show = (items: RankedItem[]) => items.map((i) => `${i.postId.slice(0, 8)}/${i.source}`).join(",");
      if (show(a) !== show(b)) {
        out.push(`${v.slice(0, 8)}: index [${show(a)}] vs clickhouse [${show(b)}]`);
        continue;
      }
      a.forEach((x, i) => {
        const y = b[i] as RankedItem;
        for (const f of ["freshness", "engagement", "affinity", "score", "diversityMultiplier"] as const) {
          if (Math.abs(x.explain[f] - y.explain[f]) > 1e-9)
            out.push(`${v.slice(0, 8)} ${x.postId.slice(0, 8)} ${f}: ${x.explain[f]} vs ${y.explain[f]}`);
        }
        if (x.text !== y.text || x.createdAtMs !== y.createdAtMs) out.push(`${x.postId}: text or time differ`);
      });
    }
    return out;
  };
  /** Every key of the test's namespace with its content (TTLs aside). */
  const dump = async (): Promise<Record<string, unknown>> => {
    const out: Record<string, unknown> = {};
    let cursor = "0";
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", `${ns}*`, "COUNT", 1000);
      cursor = next;
      for (const k of found) {
        const type = await redis.type(k);
        if (type === "hash") out[k] = await redis.hgetall(k);
        else if (type === "set") out[k] = (await redis.smembers(k)).sort();
        else if (k !== keys.ready) out[k] = await redis.get(k);
      }
    } while (cursor !== "0");
    return out;
  };
  const idle = async () => {
    await waitFor(async () => (await differences()).length === 0, 30_000, "the index to agree with ClickHouse").catch(
      async (err) => {
        throw new Error(`${(err as Error).message}:\n${(await differences()).join("\n")}`);
      },
    );
  };

  /** The index part on this file's topics, namespace and consumer group (the same each time). */
  const startIndex = async () => {
    const part = new ServingIndex(h.kafka, h.ch, redis, keys, pino({ level: "warn" }), {
      groupId: `index-${h.id}`,
      topicNamespace: h.config.kafka.topicNamespace,
      sinkGroupId: `test-sink-${h.id}`,
      watchMs: 500,
    });
    await part.start();
    return part;
  };

  beforeAll(async () => {
    h = await startCdcHarness();
    redis = new Redis(REDIS_URL);
    index = await startIndex();

    for (const [name, id] of Object.entries(u)) {
      await sql("INSERT INTO users (id, handle) VALUES ($1, $2)", [id, `${name}_${h.id}`]);
    }
    for (const f of [u.a1, u.a2, u.gone, u.blocked, u.blocker]) {
      await sql("INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)", [u.viewer, f]);
    }
    for (const f of [u.f1, u.f2, u.f3])
      await sql("INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)", [f, u.a1]);
    await post("a1p0", u.a1 as string);
    await post("a1p1", u.a1 as string);
    await post("a1p2", u.a1 as string);
    await post("a2p0", u.a2 as string);
    await post("a2p1", u.a2 as string);
    await post("a3p0", u.a3 as string);
    await post("a3p1", u.a3 as string);
    await post("gone0", u.gone as string);
    await post("blocked0", u.blocked as string);
    await post("blocker0", u.blocker as string);
    await post("own0", u.viewer as string);
    const like = (user: string, p: string) =>
      sql("INSERT INTO likes (user_id, post_id) VALUES ($1, $2)", [user, posts[p]]);
    for (const f of [u.f1, u.f2, u.f3]) await like(f as string, "a1p0");
    await like(u.viewer as string, "a3p0");
    await like(u.f1 as string, "a2p1");
    await like(u.a1 as string, "a1p0"); // own like: no affinity
    await sql("UPDATE likes SET deleted_at = now() WHERE user_id = $1 AND post_id = $2", [u.f1, posts.a2p1]);
    await sql("INSERT INTO comments (post_id, author_id, text) VALUES ($1, $2, 'c')", [posts.a3p1, u.viewer]);
    const c = await sql("INSERT INTO comments (post_id, author_id, text) VALUES ($1, $2, 'gone') RETURNING id", [
      posts.a2p0,
      u.viewer,
    ]);
    await sql("UPDATE comments SET deleted_at = now() WHERE id = $1", [c.rows[0].id]);
    await sql("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)", [u.viewer, u.blocked]);
    await sql("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)", [u.blocker, u.viewer]);
    await sql("UPDATE posts SET deleted_at = now() WHERE id = $1", [posts.a2p1]);
    await sql("UPDATE users SET deleted_at = now() WHERE id = $1", [u.gone]);
    await redis.zadd(seenKey(u.viewer as string), Date.now(), posts.a1p2 as string);
    // Wait for the posts to be in ClickHouse before the events, so the sink knows their authors.
    await waitFor(
      async () => {
        const rs = await h.ch.query({ query: "SELECT count() AS n FROM posts_current", format: "JSONEachRow" });
        return Number((await rs.json<{ n: string }>())[0]?.n) === Object.keys(posts).length;
      },
      30_000,
      "the posts in ClickHouse",
    );
    await waitFor(
      async () => (await redis.hlen(keys.authorPosts(u.a1 as string))) >= 3,
      30_000,
      "the posts in the index",
    );
    await sendEvents([
      [u.f1 as string, posts.a1p1 as string, "share"],
      [u.f1 as string, posts.a1p1 as string, "share"],
      [u.f1 as string, posts.a1p1 as string, "share"],
      [u.f2 as string, posts.a2p0 as string, "click"],
      [u.viewer as string, posts.a3p1 as string, "click"],
      [u.viewer as string, posts.a3p1 as string, "share"],
      [u.viewer as string, posts.a1p0 as string, "impression"],
      [u.viewer as string, posts.a1p0 as string, "impression"],
      [u.f3 as string, posts.a1p0 as string, "impression"],
      [u.a1 as string, posts.a1p0 as string, "share"],
      [u.a1 as string, posts.a1p0 as string, "impression"],
    ]);
    // Both stores settled: then the hot list (trending) and the popular authors from ClickHouse.
    await waitFor(
      async () => {
        const rs = await h.ch.query({ query: "SELECT count() AS n FROM events_raw", format: "JSONEachRow" });
        return Number((await rs.json<{ n: string }>())[0]?.n) === 11;
      },
      30_000,
      "the events in ClickHouse",
    );
    await generateHotPosts({ ch: h.ch, redis, hotKey: keys.hotPosts });
    await refreshPopularAuthors(h.ch, redis, keys);
  }, 300_000);

  afterAll(async () => {
    await index?.stop().catch(() => {});
    if (redis) {
      await dropKeys(redis, `${ns}*`);
      await redis.del(...viewers.map(seenKey));
      redis.disconnect();
    }
    await h?.teardown();
  }, 60_000);

  it("once idle, the index-built ranking equals the ClickHouse-built one for every viewer", async () => {
    await idle();
    // The world is what it should be, seen through the index.
    const viewer = await loadFromIndex(exec, keys, u.viewer as string, seenKey(u.viewer as string), Date.now());
    const all = viewer ? Object.values(viewer.bySource).flat() : [];
    const byId = new Map(all.map((c) => [c.postId, c]));
    // The author's own like counts toward nothing in ranking (four likes, three count);
    // impressions count once per (user, post, day) and never the author's own, shares likewise.
    expect(byId.get(posts.a1p0 as string)).toMatchObject({ likes: 3, impressions: 2, shares: 0 });
    expect(byId.get(posts.a1p1 as string)).toMatchObject({ shares: 1 });
    expect(byId.has(posts.a2p1 as string)).toBe(false); // deleted
    expect(byId.get(posts.gone0 as string)?.authorDeleted).toBe(true);
    expect(viewer?.blockedAuthorIds).toEqual(new Set([u.blocked, u.blocker]));
    // Affinity with a3: a like, a comment, a click and a share.
    expect(byId.get(posts.a3p0 as string)?.authorInteractions90d).toBe(4);
    expect(byId.get(posts.a3p0 as string)?.source).toBe("affinity");
    expect((await checkIndex(h.ch, redis, keys)).differences).toEqual([]);
  });

  it("a replay of every topic from the first offset (an updater killed before committing) changes nothing", async () => {
    await idle();
    const before = await dump();
    await index.stop();
    const admin = h.kafka.admin();
    await admin.connect();
    for (const t of ["users", "posts", "follows", "likes", "comments", "blocks"]) {
      await admin.resetOffsets({ groupId: `index-${h.id}`, topic: h.topic(`cdc.${t}`), earliest: true });
    }
    await admin.resetOffsets({ groupId: `index-${h.id}`, topic: h.topic("events"), earliest: true });
    index = await startIndex();
    // Caught up: the group's committed offsets reach the end of every partition.
    await waitFor(
      async () => {
        const committed = await admin.fetchOffsets({
          groupId: `index-${h.id}`,
          topics: [h.topic("events"), h.topic("cdc.likes"), h.topic("cdc.posts")],
        });
        for (const { topic, partitions } of committed) {
          const ends = await admin.fetchTopicOffsets(topic);
          for (const e of ends) {
            const c = partitions.find((p) => p.partition === e.partition);
            if (Number(e.high) > 0 && Number(c?.offset ?? -1) < Number(e.high)) return false;
          }
        }
        return true;
      },
      30_000,
      "the replay to reach the end of the topics",
    );
    await admin.disconnect();
    const after = await dump();
    // `_b` (the last bump) is a time, not a count.
    const strip = (d: Record<string, unknown>) =>
      JSON.parse(JSON.stringify(d, (k, v) => (k === "_b" ? undefined : v))) as Record<string, unknown>;
    expect(strip(after)).toEqual(strip(before));
  });

  it("a flushed index is rebuilt from ClickHouse and ranks as before; check:index agrees", async () => {
    await idle();
    const before = await dump();
    const all = Object.keys(before);
    await redis.del(keys.ready, ...all);
    expect(await loadFromIndex(exec, keys, u.viewer as string, seenKey(u.viewer as string), Date.now())).toBeNull();
    await waitFor(async () => (await redis.exists(keys.ready)) === 1, 30_000, "the index to be rebuilt");
    await generateHotPosts({ ch: h.ch, redis, hotKey: keys.hotPosts }); // its next run
    await idle();
    expect((await checkIndex(h.ch, redis, keys)).differences).toEqual([]);
    // The author hashes, sets and affinity are as the updater had built them.
    const after = await dump();
    const readPart = (d: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(d)
          .filter(([k]) => /:(ap|fo|bo|bi|du):?/.test(k))
          .sort(([a], [b]) => a.localeCompare(b)),
      );
    expect(readPart(after)).toEqual(readPart(before));
  });
});
