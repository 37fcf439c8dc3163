/**
 * The index bootstrap against a ClickHouse that keeps changing while it reads (the sink goes on
 * inserting): whichever moment a like, a comment and a share reach ClickHouse, before, during
 * any read of the bootstrap or after it, the updater's replay of those changes (the sink had not
 * committed them, so the updater starts before them) leaves each counted exactly once, in the
 * post's counters and in the viewer's affinity, as ClickHouse counts them.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chDateTime64, decodePostCounters, INDEX_POSTS_PER_AUTHOR, indexKeys } from "../../edge/core/index.ts";
import { migrateClickHouse } from "../../origin/ch/migrate.ts";
import { type BootstrapRead, bootstrapIndex } from "../../origin/src/index/bootstrap.ts";
import { checkIndex } from "../../origin/src/index/check.ts";
import type { IndexOp } from "../../origin/src/index/ops.ts";
import { IndexWriter } from "../../origin/src/index/writer.ts";
import { CH_URL } from "./support/cdc.ts";
import { dropKeys, REDIS_URL } from "./support/edge-world.ts";

const MOMENTS: ("before" | BootstrapRead | "after")[] = [
  "before",
  "posts",
  "counted",
  "impressions",
  "follows",
  "blocks",
  "deletedUsers",
  "popular",
  "after",
];

describe("index bootstrap while ClickHouse changes", () => {
  const database = `boot_${randomBytes(4).toString("hex")}`;
  const prefix = `tb${randomBytes(4).toString("hex")}:`;
  let ch: ClickHouseClient;
  let redis: Redis;

  beforeAll(async () => {
    const admin = createClient({ url: CH_URL });
    ch = createClient({ url: CH_URL, database });
    await migrateClickHouse(admin, ch, database);
    await admin.close();
    redis = new Redis(REDIS_URL);
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

  it.each(MOMENTS)("a like, a comment and a share that reach ClickHouse at %s count once each", async (moment) => {
    const keys = indexKeys(`${prefix}${moment}:`);
    const writer = new IndexWriter(redis, keys);
    const [viewer, author, post, comment] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const now = Date.now();
    const ts = chDateTime64(now - 5_000);
    await ch.insert({
      table: "posts_cdc",
      values: [{ id: post, author_id: author, text: `post at ${moment}`, ...cdc(1, ts) }],
      format: "JSONEachRow",
    });
    /** What the sink inserts: a like, a comment and a (counted) share by the viewer on the post. */
    const land = async () => {
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
        kind: "interaction",
        field: `l:${viewer}`,
        counter: "l",
        postId: post,
        actorId: viewer,
        authorId: author,
        live: true,
      },
      {
        kind: "interaction",
        field: `c:${comment}`,
        counter: "c",
        postId: post,
        actorId: viewer,
        authorId: author,
        live: true,
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
  });

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
    await redis.sadd(keys.impressions(viewer, "2026-12-01"), stalePost);

    const report = await bootstrapIndex(ch, redis, keys);
    expect(report.cleared).toBe(4);
    expect(await redis.exists(keys.post(stalePost), `${keys.prefix}ready:v1`)).toBe(0);
    expect(await redis.sismember(keys.followees(viewer), gone)).toBe(0);
    expect(await redis.hget(keys.affinity(viewer), gone)).toBeNull();
    expect(await redis.smembers(keys.impressions(viewer, "2026-12-01"))).toEqual([stalePost]);

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
});
