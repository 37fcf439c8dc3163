/**
 * The index bootstrap against a ClickHouse that keeps changing while it reads (the sink goes on
 * inserting): whichever moment a like, a comment, a share, a follow and the author's rename reach
 * ClickHouse, before, during any read of the bootstrap or after it, the updater's replay of those
 * changes (the sink had not committed them, so the updater starts before them) leaves each
 * counted exactly once, in the post's counters and plain totals and in the viewer's affinity, as
 * ClickHouse counts them, and the profile, handles, follows, recent likes and comments as
 * ClickHouse holds them.
 *
 * And on a world with every case the read structures have (users live, deleted and renamed, two
 * live users on one handle for a moment, posts old, of the window and deleted, follows, likes
 * recent, old, own and withdrawn, comments own, others' and deleted), the bootstrap's keys equal
 * what direct SQL over the CDC tables says, key by key.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodePostCounters,
  encodeAuthorCard,
  encodePlainTotals,
  INDEX_POST_WINDOW_MS,
  INDEX_POSTS_PER_AUTHOR,
  type IndexKeys,
  indexKeys,
  keyPrefixOf,
  RECENT_LIKES_MS,
} from "#core/keys.ts";
import { chDateTime64 } from "#core/sql/clickhouse-time.ts";
import { migrateClickHouse } from "../../origin/ch/migrate.ts";
import { type BootstrapRead, bootstrapIndex } from "../../origin/src/index/bootstrap.ts";
import { checkIndex } from "../../origin/src/index/check.ts";
import type { IndexOp } from "../../origin/src/index/ops.ts";
import { IndexWriter } from "../../origin/src/index/writer.ts";
import { type AnyRedis, scanAll } from "../../origin/src/redis-cluster.ts";
import { CH_URL, dropKeys, testRedis } from "../../scripts/lib/world.ts";

const MOMENTS: ("before" | BootstrapRead | "after")[] = [
  "before",
  "posts",
  "counted",
  "impressions",
  "follows",
  "blocks",
  "users",
  "userPosts",
  "recentLikes",
  "comments",
  "popular",
  "after",
];

describe("index bootstrap while ClickHouse changes", () => {
  const database = `boot_${randomBytes(4).toString("hex")}`;
  const prefix = `tb${randomBytes(4).toString("hex")}:`;
  let ch: ClickHouseClient;
  let redis: AnyRedis;

  beforeAll(async () => {
    const admin = createClient({ url: CH_URL });
    ch = createClient({ url: CH_URL, database });
    await migrateClickHouse(admin, ch, database);
    await admin.close();
    redis = testRedis();
  }, 120_000);

  afterAll(async () => {
    await ch?.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
    await ch?.close();
    if (redis) {
      await dropKeys(redis, `${prefix}*`);
      redis.disconnect();
    }
  });

  const cdc = (version: number, ts: string) => ({
    created_at: ts,
    updated_at: ts,
    deleted_at: null,
    _version: version,
    _is_deleted: 0,
    _sign: 1,
    _source_ts: ts,
  });

  const user = (id: string, handle: string, version: number, ts: string, deleted = false) => ({
    id,
    handle,
    display_name: `The ${handle}`,
    bio: `bio ${version}`,
    ...cdc(version, ts),
    deleted_at: deleted ? ts : null,
  });

  it.each(MOMENTS)(
    "a like, a comment, a share, a follow and a rename that reach ClickHouse at %s count once each",
    async (moment) => {
      const keys = indexKeys(`${prefix}${moment}:`);
      const writer = new IndexWriter(redis, keys);
      const [viewer, author, post, comment] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      const tag = randomBytes(3).toString("hex");
      const [oldHandle, newHandle] = [`old_${tag}`, `New_${tag}`];
      const now = Date.now();
      const tsMs = now - 5_000;
      const ts = chDateTime64(tsMs);
      await ch.insert({
        table: "posts_cdc",
        values: [{ id: post, author_id: author, text: `post at ${moment}`, ...cdc(1, ts) }],
        format: "JSONEachRow",
      });
      await ch.insert({ table: "users_cdc", values: [user(author, oldHandle, 1, ts)], format: "JSONEachRow" });
      /**
       * What the sink inserts: a like, a comment and a (counted) share by the viewer on the post,
       * the viewer's follow of the author and the author's rename.
       */
      const land = async () => {
        await ch.insert({ table: "users_cdc", values: [user(author, newHandle, 5, ts)], format: "JSONEachRow" });
        await ch.insert({
          table: "follows_cdc",
          values: [{ follower_id: viewer, followee_id: author, ...cdc(4, ts) }],
          format: "JSONEachRow",
        });
        await ch.insert({
          table: "likes_cdc",
          values: [{ user_id: viewer, post_id: post, post_author_id: author, ...cdc(2, ts) }],
          format: "JSONEachRow",
        });
        await ch.insert({
          table: "comments_cdc",
          values: [{ id: comment, post_id: post, author_id: viewer, post_author_id: author, text: "c", ...cdc(3, ts) }],
          format: "JSONEachRow",
        });
        await ch.insert({
          table: "events_raw",
          values: [
            {
              event_id: randomUUID(),
              user_id: viewer,
              post_id: post,
              author_id: author,
              type: "share",
              dwell_ms: 0,
              counted: 1,
              client_ts: ts,
              received_at: ts,
            },
          ],
          format: "JSONEachRow",
        });
      };
      /** The same changes as the updater reads them from Kafka. */
      const ops: IndexOp[] = [
        {
          kind: "user",
          userId: author,
          deleted: false,
          handle: newHandle,
          displayName: `The ${newHandle}`,
          bio: "bio 5",
          createdMs: tsMs,
          version: 5,
        },
        { kind: "follow", followerId: viewer, followeeId: author, live: true, createdMs: tsMs },
        {
          kind: "interaction",
          field: `l:${viewer}`,
          counter: "l",
          postId: post,
          actorId: viewer,
          authorId: author,
          live: true,
          createdMs: tsMs,
          text: "",
        },
        {
          kind: "interaction",
          field: `c:${comment}`,
          counter: "c",
          postId: post,
          actorId: viewer,
          authorId: author,
          live: true,
          createdMs: tsMs,
          text: "c",
        },
        { kind: "event", postId: post, userId: viewer, type: "share", receivedMs: now - 5_000 },
      ];

      if (moment === "before") await land();
      const landed: string[] = [];
      await bootstrapIndex(ch, redis, keys, undefined, {
        beforeRead: async (read) => {
          if (read !== moment) return;
          await land();
          landed.push(read);
        },
      });
      if (moment === "after") await land();
      else if (moment !== "before") expect(landed).toEqual([moment]);
      // The updater's replay from before the changes, and a redelivery of the same batch.
      await writer.apply(ops);
      await writer.apply(ops);

      const truth = await (
        await ch.query({
          query: `SELECT toInt64(sum(interactions)) AS n FROM user_author_90d
                WHERE user_id = {u:UUID} AND author_id = {a:UUID}`,
          query_params: { u: viewer, a: author },
          format: "JSONEachRow",
        })
      ).json<{ n: string }>();
      expect(Number(truth[0]?.n)).toBe(3);
      expect(await redis.hget(keys.affinity(viewer), author)).toBe("3");
      expect(decodePostCounters(await redis.hget(keys.authorPosts(author), `${post}:n`))).toMatchObject({
        likes: 1,
        comments: 1,
        shares: 1,
      });
      expect(await redis.hget(keys.authorPosts(author), `${post}:d`)).toBe("1,1");
      expect(await redis.hget(keys.authorPosts(author), "_u")).toBe(encodeAuthorCard(newHandle, `The ${newHandle}`));
      expect(await redis.hgetall(keys.profile(author))).toEqual({
        h: newHandle,
        n: `The ${newHandle}`,
        b: "bio 5",
        c: String(tsMs),
        _v: "5",
      });
      expect(await redis.hget(keys.handle(newHandle), "u")).toBe(author);
      expect(await redis.exists(keys.handle(oldHandle))).toBe(0);
      expect(await redis.zscore(keys.following(viewer), author)).toBe(String(tsMs));
      expect(await redis.zscore(keys.followers(author), viewer)).toBe(String(tsMs));
      expect(await redis.zscore(keys.recentLikes(viewer), post)).toBe(String(tsMs));
      expect(await redis.zscore(keys.userPosts(author), post)).toBe(String(tsMs));
      expect(await redis.hgetall(keys.commentBodies(post))).toEqual({ [comment]: `${viewer}\t${tsMs}\tc` });
      expect(await redis.zscore(keys.comments(post), comment)).toBe(String(tsMs));
    },
  );

  it("clears what an earlier index left, keeps the impression sets, and keeps an author's newest posts only", async () => {
    const keys = indexKeys(`${prefix}clear:`);
    const [viewer, author, gone] = [randomUUID(), randomUUID(), randomUUID()];
    const now = Date.now();
    // One more post than the index keeps per author, a millisecond apart: the oldest is dropped.
    const posts = Array.from({ length: INDEX_POSTS_PER_AUTHOR + 1 }, (_, i) => ({
      id: randomUUID(),
      author_id: author,
      text: `p${i}`,
      ...cdc(10 + i, chDateTime64(now - 60_000 + i)),
    }));
    await ch.insert({ table: "posts_cdc", values: posts, format: "JSONEachRow" });
    const oldest = posts[0]?.id as string;
    await ch.insert({
      table: "likes_cdc",
      values: [{ user_id: viewer, post_id: oldest, post_author_id: author, ...cdc(1000, chDateTime64(now - 1000)) }],
      format: "JSONEachRow",
    });
    // What an interrupted bootstrap, or an index of another layout, left behind.
    const stalePost = randomUUID();
    await redis.hset(keys.post(stalePost), "a", gone, `l:${viewer}`, "1");
    await redis.sadd(keys.followees(viewer), gone);
    await redis.hset(keys.affinity(viewer), gone, "7");
    await redis.set(`${keys.prefix}ready:v1`, "{}");
    await redis.sadd(keys.impressions(stalePost, "2026-12-01"), viewer);

    const report = await bootstrapIndex(ch, redis, keys);
    expect(report.cleared).toBe(4);
    expect(await redis.exists(keys.post(stalePost))).toBe(0);
    expect(await redis.exists(`${keys.prefix}ready:v1`)).toBe(0);
    expect(await redis.sismember(keys.followees(viewer), gone)).toBe(0);
    expect(await redis.hget(keys.affinity(viewer), gone)).toBeNull();
    expect(await redis.smembers(keys.impressions(stalePost, "2026-12-01"))).toEqual([viewer]);

    const fields = await redis.hgetall(keys.authorPosts(author));
    const kept = Object.keys(fields).filter((f) => !f.includes(":"));
    expect(kept).toHaveLength(INDEX_POSTS_PER_AUTHOR);
    expect(kept).not.toContain(oldest);
    // The dropped post keeps its record (a replayed unlike must find it) with the plain TTL.
    expect(await redis.hget(keys.post(oldest), `l:${viewer}`)).toBe("1");
    expect(await redis.ttl(keys.post(oldest))).toBeGreaterThan(0);
    expect(await redis.hget(keys.affinity(viewer), author)).toBe("1");
    // What the streamed bootstrap wrote is what ClickHouse says, read whole into memory.
    expect((await checkIndex(ch, redis, keys)).differences).toEqual([]);
  });

  it("fills every read structure as direct SQL over the CDC tables says, key by key", async () => {
    const keys = indexKeys(`${prefix}reads:`);
    const id = () => randomUUID();
    const [ann, bob, gone, dupOld, dupNew, quiet] = [id(), id(), id(), id(), id(), id()];
    const tag = randomBytes(3).toString("hex");
    const now = Date.now();
    const at = (agoMs: number) => chDateTime64(now - agoMs);
    const H = 3_600_000;
    const D = 24 * H;
    await ch.insert({
      table: "users_cdc",
      values: [
        user(ann, `ann_${tag}`, 100, at(30 * D)),
        // Renamed: the newer row wins.
        user(bob, `bobby_${tag}`, 101, at(20 * D)),
        user(bob, `Bob_${tag}`, 150, at(20 * D)),
        user(gone, `gone_${tag}`, 102, at(10 * D), true),
        // One handle on two live users for a moment (the older one's rename not inserted yet).
        user(dupOld, `dup_${tag}`, 103, at(9 * D)),
        user(dupNew, `DUP_${tag}`, 160, at(1 * D)),
        user(quiet, `quiet_${tag}`, 104, at(1 * D)),
      ].map((u) => ({ ...u, display_name: u.handle === `Bob_${tag}` ? "" : u.display_name })),
      format: "JSONEachRow",
    });
    const post = (pid: string, author: string, agoMs: number, version: number, deleted = false) => ({
      id: pid,
      author_id: author,
      text: `text of ${pid.slice(0, 4)}`,
      ...cdc(version, at(agoMs)),
      deleted_at: deleted ? at(agoMs) : null,
    });
    const [annNew, annOld, annGone, bobNew, goneNew] = [id(), id(), id(), id(), id()];
    await ch.insert({
      table: "posts_cdc",
      values: [
        post(annNew, ann, 2 * H, 200),
        post(annOld, ann, 9 * D, 201),
        post(annGone, ann, 3 * H, 202, true),
        post(bobNew, bob, 1 * H, 203),
        post(goneNew, gone, 1 * H, 204),
      ],
      format: "JSONEachRow",
    });
    const rel = (version: number, agoMs: number, deleted = false) => ({
      ...cdc(version, at(agoMs)),
      deleted_at: deleted ? at(agoMs) : null,
    });
    await ch.insert({
      table: "follows_cdc",
      values: [
        { follower_id: bob, followee_id: ann, ...rel(300, 5 * D) },
        { follower_id: quiet, followee_id: ann, ...rel(301, 2 * D) },
        { follower_id: ann, followee_id: bob, ...rel(302, 1 * D, true) },
      ],
      format: "JSONEachRow",
    });
    const like = (u: string, pid: string, author: string, version: number, agoMs: number, deleted = false) => ({
      user_id: u,
      post_id: pid,
      post_author_id: author,
      ...rel(version, agoMs, deleted),
    });
    await ch.insert({
      table: "likes_cdc",
      values: [
        like(bob, annNew, ann, 400, 1 * H),
        like(ann, annNew, ann, 401, 1 * H), // own: in the plain totals, not the counters
        like(quiet, annNew, ann, 402, 1 * H, true), // withdrawn
        like(bob, annOld, ann, 403, 9 * D), // older than RECENT_LIKES_MS
        like(quiet, bobNew, bob, 404, 30 * 60_000),
      ],
      format: "JSONEachRow",
    });
    const comment = (cid: string, pid: string, by: string, author: string, version: number, deleted = false) => ({
      id: cid,
      post_id: pid,
      author_id: by,
      post_author_id: author,
      text: `comment ${cid.slice(0, 4)}`,
      ...rel(version, 20 * 60_000, deleted),
    });
    await ch.insert({
      table: "comments_cdc",
      values: [
        comment(id(), annNew, bob, ann, 500),
        comment(id(), annNew, ann, ann, 501), // own
        comment(id(), annNew, quiet, ann, 502, true), // deleted
        comment(id(), annOld, bob, ann, 503), // on a post older than the window
      ],
      format: "JSONEachRow",
    });

    await bootstrapIndex(ch, redis, keys);
    expect((await checkIndex(ch, redis, keys)).differences).toEqual([]);
    expect(await readStructures(redis, keys)).toEqual(await structuresBySql(ch, keys, Date.now()));
    // The world's own cases, spelled out.
    expect(await redis.hget(keys.handle(`dup_${tag}`), "u")).toBe(dupNew);
    expect(await redis.exists(keys.handle(`bobby_${tag}`))).toBe(0);
    expect(await redis.exists(keys.profile(gone))).toBe(0);
    expect(await redis.exists(keys.handle(`gone_${tag}`))).toBe(0);
    expect(await redis.hget(keys.authorPosts(ann), `${annNew}:d`)).toBe(encodePlainTotals({ likes: 2, comments: 2 }));
    expect(await redis.hget(keys.authorPosts(bob), "_u")).toBe(encodeAuthorCard(`Bob_${tag}`, ""));
    expect(await redis.hget(keys.authorPosts(gone), "_u")).toBeNull();
    expect(await redis.zscore(keys.recentLikes(bob), annOld)).toBeNull();
    expect(await redis.zcard(keys.userPosts(ann))).toBe(2);
    expect(await redis.ttl(keys.recentLikes(bob))).toBeGreaterThan(RECENT_LIKES_MS / 1000 - 60);
  });
});

/** The layout 4 keys of a namespace (and the author hashes' `_u` and `{post}:d`), as Redis holds them. */
async function readStructures(redis: AnyRedis, keys: IndexKeys): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const names = [
    "profile",
    "handle",
    "followers",
    "following",
    "userPosts",
    "recentLikes",
    "comments",
    "commentBodies",
  ];
  const prefixes = [
    ...names.map((n) => keyPrefixOf(keys[n as keyof IndexKeys] as (x: string) => string)),
    keyPrefixOf(keys.authorPosts),
  ];
  for (const prefix of prefixes) {
    for await (const found of scanAll(redis, `${prefix}*`)) {
      for (const k of found) {
        const type = await redis.type(k);
        if (type === "string") out[k] = await redis.get(k);
        else if (prefix === keyPrefixOf(keys.handle)) out[k] = await redis.hgetall(k);
        else if (type === "zset") {
          const flat = await redis.zrange(k, 0, -1, "WITHSCORES");
          const z: Record<string, number> = {};
          for (let i = 0; i + 1 < flat.length; i += 2) z[flat[i] as string] = Number(flat[i + 1]);
          out[k] = z;
        } else if (prefix === keyPrefixOf(keys.authorPosts)) {
          const h = Object.entries(await redis.hgetall(k)).filter(([f]) => f === "_u" || f.endsWith(":d"));
          if (h.length) out[k] = Object.fromEntries(h);
        } else out[k] = await redis.hgetall(k);
      }
    }
  }
  return out;
}

/**
 * The same keys computed from the CDC tables with plain SQL (the latest row of each key, live
 * ones only) and the layout's rules, independently of the bootstrap's and the check's queries.
 */
async function structuresBySql(ch: ClickHouseClient, keys: IndexKeys, now: number): Promise<Record<string, unknown>> {
  const rows = async <T>(query: string) =>
    (await ch.query({ query, format: "JSONEachRow" })).json<T>().then((r) => r as T[]);
  const ms = (col: string) => `toUnixTimestamp64Milli(${col})`;
  const live = "_is_deleted = 0 AND deleted_at IS NULL";
  const out: Record<string, Record<string, unknown> | string> = {};
  const put = (key: string, field: string, v: unknown) => {
    out[key] = { ...(out[key] as Record<string, unknown> | undefined), [field]: v };
  };
  type User = { id: string; handle: string; display_name: string; bio: string; c: string; v: string };
  const users = await rows<User>(
    `SELECT toString(id) AS id, handle, display_name, bio, ${ms("created_at")} AS c, toString(_version) AS v
     FROM users_cdc FINAL WHERE ${live}`,
  );
  const byHandle = new Map<string, User>();
  for (const u of users) {
    out[keys.profile(u.id)] = { h: u.handle, n: u.display_name, b: u.bio, c: String(Number(u.c)), _v: u.v };
    const other = byHandle.get(u.handle.toLowerCase());
    if (!other || BigInt(other.v) < BigInt(u.v)) byHandle.set(u.handle.toLowerCase(), u);
  }
  for (const [h, u] of byHandle) out[keys.handle(h)] = { u: u.id, v: u.v };
  for (const f of await rows<{ a: string; b: string; t: string }>(
    `SELECT toString(follower_id) AS a, toString(followee_id) AS b, ${ms("created_at")} AS t FROM follows_cdc FINAL WHERE ${live}`,
  )) {
    put(keys.following(f.a), f.b, Number(f.t));
    put(keys.followers(f.b), f.a, Number(f.t));
  }
  type Post = { id: string; a: string; t: string };
  const posts = await rows<Post>(
    `SELECT toString(id) AS id, toString(author_id) AS a, ${ms("created_at")} AS t FROM posts_cdc FINAL WHERE ${live}`,
  );
  for (const p of posts) put(keys.userPosts(p.a), p.id, Number(p.t));
  type Like = { u: string; p: string; t: string };
  const likes = await rows<Like>(
    `SELECT toString(user_id) AS u, toString(post_id) AS p, ${ms("created_at")} AS t FROM likes_cdc FINAL WHERE ${live}`,
  );
  for (const l of likes) if (Number(l.t) >= now - RECENT_LIKES_MS) put(keys.recentLikes(l.u), l.p, Number(l.t));
  type Comment = { id: string; p: string; by: string; text: string; t: string };
  const comments = await rows<Comment>(
    `SELECT toString(id) AS id, toString(post_id) AS p, toString(author_id) AS by, text, ${ms("created_at")} AS t
     FROM comments_cdc FINAL WHERE ${live}`,
  );
  for (const c of comments) {
    put(keys.comments(c.p), c.id, Number(c.t));
    put(keys.commentBodies(c.p), c.id, `${c.by}\t${Number(c.t)}\t${c.text}`);
  }
  // The author hashes: each author's newest INDEX_POSTS_PER_AUTHOR live posts of the window.
  const byAuthor = new Map<string, Post[]>();
  for (const p of posts)
    if (Number(p.t) >= now - INDEX_POST_WINDOW_MS) byAuthor.set(p.a, [...(byAuthor.get(p.a) ?? []), p]);
  const profiles = new Map(users.map((u) => [u.id, u]));
  for (const [a, list] of byAuthor) {
    const kept = list
      .sort((x, y) => Number(y.t) - Number(x.t) || (y.id > x.id ? 1 : -1))
      .slice(0, INDEX_POSTS_PER_AUTHOR);
    const ak = keys.authorPosts(a);
    const u = profiles.get(a);
    if (u) put(ak, "_u", encodeAuthorCard(u.handle, u.display_name));
    for (const p of kept) {
      const d = encodePlainTotals({
        likes: likes.filter((l) => l.p === p.id).length,
        comments: comments.filter((c) => c.p === p.id).length,
      });
      if (d) put(ak, `${p.id}:d`, d);
    }
  }
  return out;
}
