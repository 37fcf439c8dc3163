/**
 * The checkers can fail. On a small ClickHouse world and an index bootstrapped from it, both
 * report nothing; then each is handed data broken on purpose and must name the break:
 * - `npm run check:index` (the CLI, as a user runs it) exits 1 and names a corrupted post
 *   counter, a follow that went missing and an affinity that drifted;
 * - check:index names a wrong, a missing and an extra entry of every structure the reads need
 *   (profiles, handles, followers, following, an author's post ids, recent likes, comments and
 *   their bodies, the author card and the plain totals), each counted in its total;
 * - check:index (and its CLI, exit 1) names a wrong score, a missing member and a bogus member of
 *   the suggestions' follower counts (`fi:{fc}:z`), whose members include a deleted user with a
 *   live follower, as the bootstrap fills them;
 * - the index's post-counter reconciliation repairs nothing on a sound index, and repairs a
 *   counter that stays wrong (on its second sighting), counted in origin_index_repairs_total;
 *   the read structures' reconciliation likewise repairs every wrong and extra entry above;
 * - the derived-data rules of `check:consistency` name an event with the zero author of a known
 *   post, an own-post event counted, a share counted twice, and a post_totals row off by one.
 */
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { indexKeys } from "#core/keys.ts";
import { suggestionKeys } from "#core/reads/suggestions.ts";
import { chDateTime64 } from "#core/sql/clickhouse-time.ts";
import { checkDerived } from "../../origin/ch/derived.ts";
import { migrateClickHouse } from "../../origin/ch/migrate.ts";
import { bootstrapIndex } from "../../origin/src/index/bootstrap.ts";
import { checkIndex, withoutCounterVersions } from "../../origin/src/index/check.ts";
import {
  IndexRepairs,
  reconcileIndex,
  reconcilePostCounters,
  reconcileReadStructures,
} from "../../origin/src/index/reconcile.ts";
import { JobGroup, PeriodicJob } from "../../origin/src/jobs/periodic.ts";
import { createMetrics } from "../../origin/src/metrics.ts";
import { CH_URL, dropKeys, REDIS_URL } from "../../scripts/lib/world.ts";

const run = promisify(execFile);
const ZERO = "00000000-0000-0000-0000-000000000000";

describe("checkers find broken data", () => {
  const database = `chk_${randomBytes(4).toString("hex")}`;
  const ns = `tc${randomBytes(4).toString("hex")}:`;
  const keys = indexKeys(ns);
  const [author, fan, other, post, post2] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const [comment1, comment2] = [randomUUID(), randomUUID()];
  const tag = randomBytes(3).toString("hex");
  const handles = { author: `Auth_${tag}`, fan: `fan_${tag}`, other: `other_${tag}` };
  let ch: ClickHouseClient;
  let redis: Redis;
  const ts = chDateTime64(Date.now() - 60_000);
  const cdc = (version: number) => ({
    created_at: ts,
    updated_at: ts,
    deleted_at: null,
    _version: version,
    _is_deleted: 0,
    _sign: 1,
    _source_ts: ts,
  });
  const event = (user: string, postId: string, authorId: string, type: string, counted: number) => ({
    event_id: randomUUID(),
    user_id: user,
    post_id: postId,
    author_id: authorId,
    type,
    dwell_ms: 0,
    counted,
    client_ts: ts,
    received_at: ts,
  });

  beforeAll(async () => {
    const admin = createClient({ url: CH_URL });
    ch = createClient({ url: CH_URL, database });
    await migrateClickHouse(admin, ch, database);
    await admin.close();
    redis = new Redis(REDIS_URL);
    const insert = (table: string, values: Record<string, unknown>[]) =>
      ch.insert({ table, values, format: "JSONEachRow" });
    await insert("posts_cdc", [
      { id: post, author_id: author, text: "p1", ...cdc(1) },
      { id: post2, author_id: author, text: "p2", ...cdc(2) },
    ]);
    await insert("follows_cdc", [
      { follower_id: fan, followee_id: author, ...cdc(3) },
      { follower_id: other, followee_id: author, ...cdc(5) },
    ]);
    await insert("likes_cdc", [
      { user_id: fan, post_id: post, post_author_id: author, ...cdc(4) },
      // The author's own like: in post2's plain totals, not in its counters.
      { user_id: author, post_id: post2, post_author_id: author, ...cdc(6) },
    ]);
    await insert("users_cdc", [
      { id: author, handle: handles.author, display_name: "The author", bio: "", ...cdc(7) },
      { id: fan, handle: handles.fan, display_name: "A fan", bio: "likes things", ...cdc(8) },
      { id: other, handle: handles.other, display_name: "", bio: "", ...cdc(9) },
    ]);
    await insert("comments_cdc", [
      { id: comment1, post_id: post2, author_id: other, post_author_id: author, text: "nice", ...cdc(10) },
      { id: comment2, post_id: post2, author_id: author, post_author_id: author, text: "thanks", ...cdc(11) },
    ]);
    await insert("events_raw", [
      event(fan, post, author, "share", 1),
      event(fan, post, author, "impression", 1),
      event(author, post, author, "impression", 0),
    ]);
    await bootstrapIndex(ch, redis, keys);
  }, 120_000);

  afterAll(async () => {
    await ch?.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
    await ch?.close();
    if (redis) {
      await dropKeys(redis, `${ns}*`);
      await redis.del(suggestionKeys(keys).followerCountsAt); // outside the namespace
      redis.disconnect();
    }
  });

  const cli = async (script: string) => {
    const env = {
      ...process.env,
      CLICKHOUSE_URL: CH_URL,
      CLICKHOUSE_DATABASE: database,
      INDEX_NAMESPACE: ns,
      REDIS_URL,
    };
    try {
      const r = await run("npm", ["run", "-s", script], { env, timeout: 120_000 });
      return { code: 0, out: r.stdout };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: `${e.stdout}${e.stderr}` };
    }
  };

  it("both report nothing on data that keeps the rules", async () => {
    expect((await checkIndex(ch, redis, keys)).differences).toEqual([]);
    expect((await checkDerived(ch)).filter((r) => r.violations > 0)).toEqual([]);
    const r = await cli("check:index");
    expect(r.out).toContain("consistent, 0 differences");
    expect(r.code).toBe(0);
  }, 120_000);

  it("check:index exits 1 naming a corrupted counter, a missing follow and a drifted affinity", async () => {
    await redis.hset(keys.authorPosts(author), `${post}:n`, "7,0,1,1");
    await redis.srem(keys.followees(fan), author);
    await redis.hincrby(keys.affinity(fan), author, 5);
    try {
      const r = await cli("check:index");
      expect(r.code).toBe(1);
      expect(r.out).toContain(`${keys.authorPosts(author)} ${post}:n: index 7,0,1,1 | clickhouse 1,0,1,1`);
      expect(r.out).toContain(`${keys.followees(fan)} ${author}: index - | clickhouse 1`);
      expect(r.out).toMatch(new RegExp(`${keys.affinity(fan)} ${author}: index 7 \\| clickhouse 2`));
      expect(r.out).toContain("INCONSISTENT: 3 differences");
    } finally {
      await bootstrapIndex(ch, redis, keys);
    }
  }, 120_000);

  /** Every difference check:index reports, as "key field" (a string key's field is empty). */
  const differenceIds = async () => {
    const report = await checkIndex(ch, redis, keys, 10_000);
    expect(report.total).toBe(report.differences.length);
    return report.differences.map((d) => `${d.key} ${d.field ?? ""}`).sort();
  };
  const ghost = randomUUID();
  /** One corruption per read structure, each named by the difference check:index must report. */
  const corruptions: Record<"wrong" | "missing" | "extra", [() => Promise<unknown>, string[]][]> = {
    wrong: [
      [() => redis.hset(keys.profile(author), "n", "Someone else"), [`${keys.profile(author)} n`]],
      [() => redis.hset(keys.handle(handles.author), "u", fan), [`${keys.handle(handles.author)} u`]],
      [() => redis.zadd(keys.followers(author), 1, fan), [`${keys.followers(author)} ${fan}`]],
      [() => redis.zadd(keys.following(fan), 1, author), [`${keys.following(fan)} ${author}`]],
      [() => redis.zadd(keys.userPosts(author), 1, post), [`${keys.userPosts(author)} ${post}`]],
      [() => redis.zadd(keys.recentLikes(fan), Date.now(), post), [`${keys.recentLikes(fan)} ${post}`]],
      [() => redis.zadd(keys.comments(post2), 1, comment1), [`${keys.comments(post2)} ${comment1}`]],
      [() => redis.hset(keys.commentBodies(post2), comment1, "x"), [`${keys.commentBodies(post2)} ${comment1}`]],
      [() => redis.hset(keys.authorPosts(author), "_u", "x\ty"), [`${keys.authorPosts(author)} _u`]],
      [() => redis.hset(keys.authorPosts(author), `${post2}:d`, "9,9"), [`${keys.authorPosts(author)} ${post2}:d`]],
    ],
    missing: [
      [() => redis.del(keys.profile(fan)), ["h", "n", "b", "c", "_v"].map((f) => `${keys.profile(fan)} ${f}`)],
      [() => redis.del(keys.handle(handles.fan)), [`${keys.handle(handles.fan)} u`]],
      [() => redis.zrem(keys.followers(author), fan), [`${keys.followers(author)} ${fan}`]],
      [() => redis.zrem(keys.following(other), author), [`${keys.following(other)} ${author}`]],
      [() => redis.zrem(keys.userPosts(author), post2), [`${keys.userPosts(author)} ${post2}`]],
      [() => redis.zrem(keys.recentLikes(fan), post), [`${keys.recentLikes(fan)} ${post}`]],
      [() => redis.zrem(keys.comments(post2), comment2), [`${keys.comments(post2)} ${comment2}`]],
      [() => redis.hdel(keys.commentBodies(post2), comment2), [`${keys.commentBodies(post2)} ${comment2}`]],
      [() => redis.hdel(keys.authorPosts(author), "_u"), [`${keys.authorPosts(author)} _u`]],
      [() => redis.hdel(keys.authorPosts(author), `${post}:d`), [`${keys.authorPosts(author)} ${post}:d`]],
    ],
    extra: [
      [() => redis.hset(keys.profile(ghost), "h", "ghost"), [`${keys.profile(ghost)} h`]],
      [() => redis.hset(keys.handle("ghost"), "u", ghost), [`${keys.handle("ghost")} u`]],
      [() => redis.zadd(keys.followers(author), 5, ghost), [`${keys.followers(author)} ${ghost}`]],
      [() => redis.zadd(keys.following(ghost), 5, author), [`${keys.following(ghost)} ${author}`]],
      [() => redis.zadd(keys.userPosts(author), 5, ghost), [`${keys.userPosts(author)} ${ghost}`]],
      [() => redis.zadd(keys.recentLikes(fan), Date.now(), ghost), [`${keys.recentLikes(fan)} ${ghost}`]],
      [() => redis.zadd(keys.comments(post2), 5, ghost), [`${keys.comments(post2)} ${ghost}`]],
      [() => redis.hset(keys.commentBodies(ghost), ghost, "x"), [`${keys.commentBodies(ghost)} ${ghost}`]],
      [() => redis.hset(keys.authorPosts(ghost), "_u", "x\ty"), [`${keys.authorPosts(ghost)} _u`]],
      [() => redis.hset(keys.authorPosts(author), `${ghost}:d`, "1,0"), [`${keys.authorPosts(author)} ${ghost}:d`]],
    ],
  };

  it.each(["wrong", "missing", "extra"] as const)(
    "check:index names every read structure's %s entry, and counts it",
    async (round) => {
      // The sound world first: the structures hold what the corruptions touch.
      expect(await differenceIds()).toEqual([]);
      expect(await redis.hgetall(keys.profile(author))).toMatchObject({ h: handles.author, n: "The author" });
      expect(await redis.hget(keys.authorPosts(author), `${post2}:d`)).toBe("1,2");
      expect(await redis.zcard(keys.comments(post2))).toBe(2);
      try {
        for (const [corrupt] of corruptions[round]) await corrupt();
        expect(await differenceIds()).toEqual(corruptions[round].flatMap(([, ids]) => ids).sort());
        if (round === "wrong") {
          const r = await cli("check:index");
          expect(r.code).toBe(1);
          expect(r.out).toContain(`${keys.handle(handles.author)} u: index ${fan} | clickhouse ${author}`);
          expect(r.out).toContain(`${keys.followers(author)} ${fan}: index 1 | clickhouse `);
          expect(r.out).toContain(`${keys.authorPosts(author)} ${post2}:d: index 9,9 | clickhouse 1,2`);
          expect(r.out).toContain(`INCONSISTENT: ${corruptions.wrong.length} differences`);
        }
      } finally {
        await bootstrapIndex(ch, redis, keys);
      }
      expect(await differenceIds()).toEqual([]);
    },
    120_000,
  );

  it("the read structures' reconciliation repairs a lasting wrong or extra entry of each on its second sighting", async () => {
    const repairs = new IndexRepairs();
    expect(await reconcileReadStructures(ch, redis, keys, repairs)).toMatchObject({ differences: 0, repaired: 0 });
    const broken = [...corruptions.wrong, ...corruptions.extra];
    for (const [corrupt] of broken) await corrupt();
    const n = broken.flatMap(([, ids]) => ids).length;
    // A post past the window that the author hash still holds (its next upsert trims it): its
    // plain totals are not the reconciliation's to remove.
    const aged = randomUUID();
    const ak = keys.authorPosts(author);
    await redis.hset(ak, aged, `${Date.now() - 8 * 24 * 3600_000}\told`, `${aged}:d`, "1,0");
    try {
      // Seen once: it may be in flight between the two pipelines, so it is left alone.
      expect(await reconcileReadStructures(ch, redis, keys, repairs)).toMatchObject({ differences: n, repaired: 0 });
      expect(await redis.hget(keys.profile(author), "n")).toBe("Someone else");
      // A value that changed since it was seen is not overwritten (nor repaired) this time.
      await redis.hset(keys.profile(author), "n", "Changed again");
      expect(await reconcileIndex(ch, redis, keys, repairs)).toMatchObject({
        postCounters: { differences: 0, repaired: 0 },
        structures: { differences: n, repaired: n - 1 },
      });
      expect(await redis.hget(keys.profile(author), "n")).toBe("Changed again");
      expect(await redis.hget(ak, `${aged}:d`)).toBe("1,0");
      expect(await differenceIds()).toEqual([`${ak} ${aged}`, `${ak} ${aged}:d`, `${keys.profile(author)} n`].sort());
      await redis.hdel(ak, aged, `${aged}:d`);
      expect(await reconcileReadStructures(ch, redis, keys, repairs)).toMatchObject({ differences: 1, repaired: 1 });
      expect(await differenceIds()).toEqual([]);
      expect(repairs.byKind).toMatchObject({
        profile: 2,
        handle: 2,
        followers: 2,
        following: 2,
        user_posts: 2,
        recent_likes: 2,
        comments: 2,
        comment_bodies: 2,
        author_card: 2,
        plain_totals: 2,
        post_counters: 0,
      });
      // The repaired recent likes keep a TTL.
      expect(await redis.ttl(keys.recentLikes(fan))).toBeGreaterThan(0);
    } finally {
      await bootstrapIndex(ch, redis, keys);
    }
  }, 120_000);

  it("the reconciliation repairs nothing on a sound index and a lasting wrong counter on its second sighting", async () => {
    const repairs = new IndexRepairs();
    // The metrics read the repairs through the reconcile job the lifecycle runs (as main.ts wires it).
    const job = new PeriodicJob(
      { name: "index-reconcile", intervalMs: 60_000, run: async () => ({}), repairs: repairs.byKind },
      redis,
      pino({ level: "silent" }),
    );
    const metrics = createMetrics({ parts: [new JobGroup([job])] });
    expect(await reconcilePostCounters(ch, redis, keys, repairs)).toMatchObject({ differences: 0, repaired: 0 });
    const field = `${post}:n`;
    const right = await redis.hget(keys.authorPosts(author), field);
    await redis.hset(keys.authorPosts(author), field, "9,0,1,1");
    // Seen once: it may be in flight between the two pipelines, so it is left alone.
    expect(await reconcilePostCounters(ch, redis, keys, repairs)).toMatchObject({ differences: 1, repaired: 0 });
    expect(await redis.hget(keys.authorPosts(author), field)).toBe("9,0,1,1");
    expect(await reconcilePostCounters(ch, redis, keys, repairs)).toMatchObject({ differences: 1, repaired: 1 });
    // The counters as the bootstrap wrote them, now with the version the repair copied them at.
    expect(withoutCounterVersions({ [field]: (await redis.hget(keys.authorPosts(author), field)) ?? "" })).toEqual({
      [field]: right,
    });
    expect(await metrics.registry.metrics()).toContain('origin_index_repairs_total{kind="post_counters"} 1');
    expect((await checkIndex(ch, redis, keys)).differences).toEqual([]);
  }, 120_000);

  it("check:index names a wrong, a missing and a bogus member of the follower counts", async () => {
    const fc = suggestionKeys(keys).followerCounts;
    // A deleted user with a live follower has a follower count too (the bootstrap's rule).
    const gone = randomUUID();
    await ch.insert({
      table: "users_cdc",
      values: [{ id: gone, handle: `gone_${tag}`, display_name: "", bio: "", ...cdc(20), deleted_at: ts }],
      format: "JSONEachRow",
    });
    await ch.insert({
      table: "follows_cdc",
      values: [{ follower_id: fan, followee_id: gone, ...cdc(21) }],
      format: "JSONEachRow",
    });
    await bootstrapIndex(ch, redis, keys);
    try {
      expect(await redis.zrange(fc, 0, -1, "WITHSCORES")).toEqual([author, "-2", gone, "-1"]);
      expect(await differenceIds()).toEqual([]);
      const bogus = randomUUID();
      await redis.zadd(fc, -9, author); // a wrong score
      await redis.zrem(fc, gone); // a missing member
      await redis.zadd(fc, -4, bogus); // a member ClickHouse has no follower for
      const report = await checkIndex(ch, redis, keys, 10_000);
      const mine = report.differences.filter((d) => d.key === fc);
      expect(mine).toHaveLength(3);
      expect(mine).toEqual(
        expect.arrayContaining([
          { key: fc, field: author, index: "-9", clickhouse: "-2", type: "zset" },
          { key: fc, field: gone, index: null, clickhouse: "-1", type: "zset" },
          { key: fc, field: bogus, index: "-4", clickhouse: null, type: "zset" },
        ]),
      );
      expect(report.total).toBe(3);
      const r = await cli("check:index");
      expect(r.code).toBe(1);
      expect(r.out).toContain(`${fc} ${author}: index -9 | clickhouse -2`);
      expect(r.out).toContain(`${fc} ${gone}: index - | clickhouse -1`);
      expect(r.out).toContain(`${fc} ${bogus}: index -4 | clickhouse -`);
      expect(r.out).toContain("INCONSISTENT: 3 differences");
    } finally {
      await ch.insert({
        table: "follows_cdc",
        values: [{ follower_id: fan, followee_id: gone, ...cdc(22), deleted_at: ts }],
        format: "JSONEachRow",
      });
      await bootstrapIndex(ch, redis, keys);
    }
    expect(await redis.zrange(fc, 0, -1, "WITHSCORES")).toEqual([author, "-2"]);
    expect(await differenceIds()).toEqual([]);
  }, 120_000);

  it("the derived-data rules name a zero author, an own-post event counted, a double count and a wrong total", async () => {
    const zero = event(other, post2, ZERO, "view", 0);
    const own = event(author, post2, author, "click", 1);
    const twice = [event(other, post, author, "share", 1), event(other, post, author, "share", 1)];
    await ch.insert({ table: "events_raw", values: [zero, own, ...twice], format: "JSONEachRow" });
    const byRule = new Map((await checkDerived(ch)).map((r) => [r.rule, r]));
    expect(byRule.get("events_raw.author_id")?.examples.map((e) => e.key)).toEqual([zero.event_id]);
    expect(byRule.get("events_raw.author_id (unknown post, not pending)")?.violations).toBe(0);
    expect(byRule.get("events_raw.counted (own post or unknown post)")?.examples.map((e) => e.key)).toEqual([
      own.event_id,
    ]);
    expect(byRule.get("events_raw.counted (once per share, click, impression day)")?.examples[0]?.key).toBe(
      `${other}|${post}|share|1970-01-01`,
    );
    expect(byRule.get("events_raw.counted (views and dwell)")?.examples.map((e) => e.key)).toEqual([zero.event_id]);
    // The own click went through the views as counted: affinity and totals are off too. And a
    // post_totals row a sink never wrote:
    await ch.insert({
      table: "post_totals",
      values: [{ post_id: post, impressions: 1, views: 0, clicks: 0, shares: 0, dwell_ms: 0, likes: 0, comments: 0 }],
      format: "JSONEachRow",
    });
    const totals = (await checkDerived(ch)).find((r) => r.rule === "post_totals");
    expect(totals?.examples.map((e) => e.key)).toContain(post);
  }, 120_000);
});
