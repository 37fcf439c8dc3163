/**
 * The serving index on the real pipeline (PostgreSQL → Debezium → Kafka → updater → Redis,
 * beside the sink → ClickHouse): once idle, the ranking built from the index equals the one
 * built from ClickHouse for every viewer, and what the reads need (profiles and handles, through
 * a rename whose freed handle another user takes at once, followers and following, the authors'
 * post ids, recent likes, comments, the author cards and plain totals) equals what PostgreSQL
 * says; a replay from the first offset changes nothing; a flushed index is rebuilt from
 * ClickHouse, to the same keys and PostgreSQL's state again; and `check:index` agrees.
 */
import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CandidateRowLike, candidatesFromQuery } from "#core/feed/rows.ts";
import {
  encodeAuthorCard,
  encodePlainTotals,
  INDEX_POST_WINDOW_MS,
  indexKeys,
  keyPrefixOf,
  RECENT_LIKES_MS,
  seenKey,
} from "#core/keys.ts";
import { type RankedItem, rankFeed } from "#core/ranking/rank.ts";
import { type IndexCandidates, loadFromIndex, type PipelineExec } from "#core/serving/read.ts";
import { FEED_CANDIDATES_SQL, FEED_QUERY_LIMITS } from "#core/sql/queries.ts";
import { checkIndex, withoutCounterVersions } from "../../origin/src/index/check.ts";
import { ioredisExec } from "../../origin/src/index/exec.ts";
import { refreshPopularAuthors } from "../../origin/src/index/refresh.ts";
import { ServingIndex } from "../../origin/src/index/serving-index.ts";
import { generateHotPosts } from "../../origin/src/jobs/generators.ts";
import { type AnyRedis, scanAll, unlinkKeys } from "../../origin/src/redis-cluster.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { dropKeys, testRedis } from "../../scripts/lib/world.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";

describe("serving index", () => {
  let h: CdcHarness;
  let redis: AnyRedis;
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
      // A deleted user is not in the index (no profile): their feed is the cold path's.
      if (v === u.gone) {
        if (fromIndex) out.push("the deleted user ranked from the index");
        continue;
      }
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
    for await (const found of scanAll(redis, `${ns}*`)) {
      for (const k of found) {
        const type = await redis.type(k);
        if (type === "hash") out[k] = await redis.hgetall(k);
        else if (type === "set") out[k] = (await redis.smembers(k)).sort();
        else if (type === "zset") out[k] = await redis.zrange(k, 0, -1, "WITHSCORES");
        else if (k !== keys.ready) out[k] = await redis.get(k);
      }
    }
    return out;
  };
  /** The read structures (layout 4) in Redis: each key's content, the author hashes' `_u` and `{post}:d` only. */
  const readStructures = async (): Promise<Record<string, unknown>> => {
    const all = await dump();
    const out: Record<string, unknown> = {};
    const ap = keyPrefixOf(keys.authorPosts);
    const reads = [keys.profile, keys.handle, keys.followers, keys.following, keys.userPosts, keys.recentLikes];
    const prefixes = [...reads, keys.comments, keys.commentBodies].map((f) => keyPrefixOf(f));
    for (const [k, v] of Object.entries(all)) {
      if (k.startsWith(ap)) {
        const fields = Object.entries(v as Record<string, string>).filter(([f]) => f === "_u" || f.endsWith(":d"));
        if (fields.length) out[k] = Object.fromEntries(fields);
      } else if (prefixes.some((p) => k.startsWith(p))) {
        // A profile's `_v` is the version of its row in the WAL, which PostgreSQL does not show.
        if (k.startsWith(keyPrefixOf(keys.profile)) && v && typeof v === "object") {
          const { _v, ...rest } = v as Record<string, string>;
          expect(Number(_v), `${k} _v`).toBeGreaterThan(0);
          out[k] = rest;
        } else if (k.startsWith(keyPrefixOf(keys.handle)) && v && typeof v === "object") {
          // A handle's `v` is its claim's version, as the profile's `_v`.
          const { v: claim, ...rest } = v as Record<string, string>;
          expect(Number(claim), `${k} v`).toBeGreaterThan(0);
          out[k] = rest;
        } else out[k] = v;
      }
    }
    return out;
  };
  /** The same keys as PostgreSQL's current rows say, by the layout's rules. */
  const structuresByPg = async (): Promise<Record<string, unknown>> => {
    const out: Record<string, unknown> = {};
    const ms = (col: string) => `(extract(epoch from date_trunc('milliseconds', ${col})) * 1000)::bigint::text`;
    const zadd = (key: string, member: string, score: string) => {
      const z = (out[key] as string[] | undefined) ?? [];
      z.push(member, score);
      out[key] = z;
    };
    const users = (
      await sql(`SELECT id, handle, display_name, bio, ${ms("created_at")} AS c FROM users WHERE deleted_at IS NULL`)
    ).rows as { id: string; handle: string; display_name: string; bio: string; c: string }[];
    const byId = new Map(users.map((r) => [r.id, r]));
    for (const r of users) {
      out[keys.profile(r.id)] = { h: r.handle, n: r.display_name, b: r.bio, c: r.c };
      out[keys.handle(r.handle)] = { u: r.id };
    }
    // Sorted sets as ZRANGE WITHSCORES lists them: by score, then member.
    const zsets = async (query: string, keyOf: (r: Record<string, string>) => string) => {
      for (const r of (await sql(`SELECT * FROM (${query}) AS q ORDER BY s::bigint, m COLLATE "C"`)).rows)
        zadd(keyOf(r), r.m, r.s);
    };
    await zsets(
      `SELECT followee_id::text AS k, follower_id::text AS m, ${ms("created_at")} AS s FROM follows WHERE deleted_at IS NULL`,
      (r) => keys.followers(r.k as string),
    );
    await zsets(
      `SELECT follower_id::text AS k, followee_id::text AS m, ${ms("created_at")} AS s FROM follows WHERE deleted_at IS NULL`,
      (r) => keys.following(r.k as string),
    );
    await zsets(
      `SELECT author_id::text AS k, id::text AS m, ${ms("created_at")} AS s FROM posts WHERE deleted_at IS NULL`,
      (r) => keys.userPosts(r.k as string),
    );
    await zsets(
      `SELECT user_id::text AS k, post_id::text AS m, ${ms("created_at")} AS s FROM likes
       WHERE deleted_at IS NULL AND created_at >= now() - make_interval(secs => ${RECENT_LIKES_MS / 1000})`,
      (r) => keys.recentLikes(r.k as string),
    );
    await zsets(
      `SELECT post_id::text AS k, id::text AS m, ${ms("created_at")} AS s FROM comments WHERE deleted_at IS NULL`,
      (r) => keys.comments(r.k as string),
    );
    for (const r of (
      await sql(
        `SELECT post_id::text AS p, id::text AS id, author_id::text AS by, text, ${ms("created_at")} AS s
         FROM comments WHERE deleted_at IS NULL`,
      )
    ).rows) {
      const k = keys.commentBodies(r.p);
      out[k] = { ...(out[k] as Record<string, string> | undefined), [r.id]: `${r.by}\t${r.s}\t${r.text}` };
    }
    // Author hashes: the window's live posts (fewer than the per-author cap here), their plain
    // totals, and the card of a live author.
    const window = (
      await sql(
        `SELECT p.id::text AS id, p.author_id::text AS a,
           (SELECT count(*) FROM likes l WHERE l.post_id = p.id AND l.deleted_at IS NULL)::int AS l,
           (SELECT count(*) FROM comments c WHERE c.post_id = p.id AND c.deleted_at IS NULL)::int AS c
         FROM posts p
         WHERE p.deleted_at IS NULL AND p.created_at >= now() - make_interval(secs => ${INDEX_POST_WINDOW_MS / 1000})`,
      )
    ).rows as { id: string; a: string; l: number; c: number }[];
    for (const p of window) {
      const k = keys.authorPosts(p.a);
      const fields = { ...(out[k] as Record<string, string> | undefined) };
      const author = byId.get(p.a);
      if (author) fields._u = encodeAuthorCard(author.handle, author.display_name);
      const d = encodePlainTotals({ likes: p.l, comments: p.c });
      if (d) fields[`${p.id}:d`] = d;
      out[k] = fields;
    }
    for (const [k, v] of Object.entries(out)) if (v && typeof v === "object" && !Object.keys(v).length) delete out[k];
    return out;
  };
  /** Waits for the read structures to equal PostgreSQL's state, and says where they differ when they do not. */
  const readsAsPostgres = async () => {
    await waitFor(
      async () => isDeepStrictEqual(await readStructures(), await structuresByPg()),
      30_000,
      "the read structures to equal PostgreSQL",
    ).catch(() => {});
    const want = await structuresByPg();
    expect(Object.keys(want).length).toBeGreaterThan(30);
    expect(await readStructures()).toEqual(want);
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
    redis = testRedis();
    index = await startIndex();

    for (const [name, id] of Object.entries(u)) {
      await sql("INSERT INTO users (id, handle, display_name, bio) VALUES ($1, $2, $3, $4)", [
        id,
        `${name}_${h.id}`,
        name === "a1" ? "" : `The ${name}`,
        name === "a2" ? `bio of ${name}` : "",
      ]);
    }
    // A rename, and the freed handle taken by another user at once (the two changes travel on
    // different partitions of cdc.users, so the index may see the claim before the release).
    await sql("UPDATE users SET handle = $2, display_name = 'A two' WHERE id = $1", [u.a2, `A2_renamed_${h.id}`]);
    await sql("UPDATE users SET handle = $2 WHERE id = $1", [u.f3, `a2_${h.id}`]);
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
    await sql("INSERT INTO comments (post_id, author_id, text) VALUES ($1, $2, 'own, with\ttab')", [posts.a3p1, u.a3]);
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
      async () =>
        (await redis.hkeys(keys.authorPosts(u.a1 as string))).filter((f) => !f.includes(":") && !f.startsWith("_"))
          .length >= 3,
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
      await unlinkKeys(redis, viewers.map(seenKey));
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
    // What the reads need, as PostgreSQL says it.
    await readsAsPostgres();
    expect(await redis.hget(keys.handle(`a2_${h.id}`), "u")).toBe(u.f3);
    expect(await redis.hget(keys.handle(`a2_renamed_${h.id}`), "u")).toBe(u.a2);
    expect(await redis.exists(keys.profile(u.gone as string))).toBe(0);
    expect(await redis.exists(keys.handle(`gone_${h.id}`))).toBe(0);
    expect(await redis.hget(keys.authorPosts(u.a1 as string), `${posts.a1p0}:d`)).toBe("4,0"); // own like included
    expect(await redis.hget(keys.authorPosts(u.a3 as string), `${posts.a3p1}:d`)).toBe("0,2"); // own comment included
    expect(await redis.hget(keys.authorPosts(u.a2 as string), "_u")).toBe(`A2_renamed_${h.id}\tA two`);
    expect(await redis.hget(keys.authorPosts(u.gone as string), "_u")).toBeNull();
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
    // `_b` (the last bump) is a time, not a count; a post hash's `v` and the version a counter
    // was copied at count changes applied, and a replay applies an unlike's like once more
    // before the unlike again: what they version is what must not change.
    const strip = (d: Record<string, unknown>) =>
      JSON.parse(
        JSON.stringify(d, (k, v) =>
          k === "_b" || k === "v"
            ? undefined
            : k.endsWith(":n")
              ? String(v).replace(/^((?:[^,]*,){3}[^,]*),\d+$/, "$1")
              : v,
        ),
      ) as Record<string, unknown>;
    expect(strip(after)).toEqual(strip(before));
  });

  it("a flushed index is rebuilt from ClickHouse and ranks as before; check:index agrees", async () => {
    await idle();
    const before = await dump();
    const all = Object.keys(before);
    await unlinkKeys(redis, [keys.ready, ...all]);
    expect(await loadFromIndex(exec, keys, u.viewer as string, seenKey(u.viewer as string), Date.now())).toBeNull();
    await waitFor(async () => (await redis.exists(keys.ready)) === 1, 30_000, "the index to be rebuilt");
    await generateHotPosts({ ch: h.ch, redis, hotKey: keys.hotPosts }); // its next run
    await idle();
    expect((await checkIndex(h.ch, redis, keys)).differences).toEqual([]);
    // The author hashes, sets, affinity and read structures are as the updater had built them.
    const after = await dump();
    const readPart = (d: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(d)
          .filter(([k]) => /:fi:(ap|fo|bo|bi|du|u|hd|fr|fg|ua|lk|cm|ct)(:|$)/.test(k))
          // The counters without the version the updater copied them at (the bootstrap writes none).
          .map(([k, v]) => [
            k,
            k.startsWith(keyPrefixOf(keys.authorPosts)) ? withoutCounterVersions(v as Record<string, string>) : v,
          ])
          .sort(([a], [b]) => (a as string).localeCompare(b as string)),
      );
    expect(readPart(after)).toEqual(readPart(before));
    await readsAsPostgres();
  });
});
