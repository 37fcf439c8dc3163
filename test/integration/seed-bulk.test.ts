import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkConsistency, differences } from "../../origin/ch/consistency.ts";
import { bulkLoad } from "../../scripts/lib/bulk.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";

const num = async (h: CdcHarness, query: string) =>
  Number((await (await h.ch.query({ query, format: "JSONEachRow" })).json<{ n: string }>())[0]?.n ?? Number.NaN);

describe("npm run seed -- --bulk: COPY into PostgreSQL, rows straight into ClickHouse, then CDC", () => {
  let h: CdcHarness;

  beforeAll(async () => {
    h = await startCdcHarness({ deferConnector: true });
  }, 180_000);

  afterAll(async () => {
    await h?.teardown();
  }, 60_000);

  it("loads both stores consistently, generates the events in ClickHouse, and CDC carries later changes", async () => {
    const opts = { users: 300, seed: 11, postsPerUser: 4, eventsPerUser: 40 };
    let cdcStarted = false;
    const r = await bulkLoad(opts, {
      pool: h.pg,
      ch: h.ch,
      progress: () => () => {},
      slotName: h.config.cdc.slotName,
      startCdc: async () => {
        await h.manager.start();
        cdcStarted = true;
      },
    });
    expect(cdcStarted).toBe(true);
    const count = async (t: string) => Number((await h.pg.query(`SELECT count(*) FROM ${t}`)).rows[0].count);
    expect(await count("users")).toBe(300);
    expect(await count("posts")).toBe(1200);
    expect(await count("follows")).toBe(r.follows);
    expect(await count("likes")).toBe(r.likes);
    expect(await count("comments")).toBe(r.comments);
    // No snapshot ran (no_data), yet ClickHouse already holds every row, once.
    const diffs = await checkConsistency(h.pg, h.ch);
    expect(diffs.filter((t) => differences(t) > 0)).toEqual([]);
    // The counting views saw each like and comment once, the author's own counting toward nothing.
    const others = async (sql: string) => Number((await h.pg.query(sql)).rows[0].n);
    const otherLikes = await others(
      "SELECT count(*) AS n FROM likes l JOIN posts p ON p.id = l.post_id WHERE l.user_id <> p.author_id",
    );
    const otherComments = await others(
      "SELECT count(*) AS n FROM comments c JOIN posts p ON p.id = c.post_id WHERE c.author_id <> p.author_id",
    );
    expect(await num(h, "SELECT sum(likes) AS n FROM post_metrics_1h")).toBe(otherLikes);
    expect(await num(h, "SELECT sum(comments) AS n FROM post_metrics_1h")).toBe(otherComments);
    expect(await num(h, "SELECT sum(followers) AS n FROM author_stats")).toBe(r.follows);
    // …and so did the per-post totals the feed reads (a view on the hourly table).
    expect(await num(h, "SELECT sum(likes) AS n FROM post_totals")).toBe(otherLikes);
    // Events: all of them, each with its post's author, impressions about 70%.
    expect(await num(h, "SELECT count() AS n FROM events_raw")).toBe(r.events);
    expect(await num(h, "SELECT uniqExact(event_id) AS n FROM events_raw")).toBe(r.events);
    expect(
      await num(
        h,
        "SELECT count() AS n FROM events_raw e LEFT ANY JOIN posts_by_id p ON p.id = e.post_id WHERE p.author_id != e.author_id",
      ),
    ).toBe(0);
    const impressions = await num(h, "SELECT countIf(type = 'impression') AS n FROM events_raw");
    expect(impressions / r.events).toBeGreaterThan(0.65);
    expect(impressions / r.events).toBeLessThan(0.75);
    // Counted as the sink counts: one impression per (user, post, day), one share per (user,
    // post), none on the user's own post (computed here independently of the counted flag).
    const countedImpressions = await num(
      h,
      `SELECT count() AS n FROM (SELECT user_id, post_id, toDate(received_at) AS d FROM events_raw
         WHERE type = 'impression' AND user_id != author_id GROUP BY user_id, post_id, d)`,
    );
    const countedShares = await num(
      h,
      "SELECT uniqExact(user_id, post_id) AS n FROM events_raw WHERE type = 'share' AND user_id != author_id",
    );
    expect(countedImpressions).toBeLessThan(impressions); // the generator repeats some
    expect(await num(h, "SELECT sum(impressions) AS n FROM post_metrics_1h")).toBe(countedImpressions);
    expect(await num(h, "SELECT sum(impressions) AS n FROM post_totals")).toBe(countedImpressions);
    expect(await num(h, "SELECT sum(shares) AS n FROM post_totals")).toBe(countedShares);

    // From here on CDC carries changes: a new like and a soft-deleted post reach ClickHouse.
    const { rows } = await h.pg.query<{ id: string; author_id: string }>(
      "SELECT p.id, p.author_id FROM posts p WHERE NOT EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = $1) AND p.author_id <> $1 LIMIT 1",
      [r.demoUser],
    );
    const post = rows[0] as { id: string };
    await h.pg.query("INSERT INTO likes (user_id, post_id) VALUES ($1, $2)", [r.demoUser, post.id]);
    await h.pg.query("UPDATE posts SET deleted_at = now() WHERE id = (SELECT id FROM posts ORDER BY id LIMIT 1)");
    await waitFor(
      async () => (await num(h, "SELECT sum(likes) AS n FROM post_metrics_1h")) === r.likes + 1,
      30_000,
      "the new like in ClickHouse",
    );
    await waitFor(
      async () => (await checkConsistency(h.pg, h.ch)).every((t) => differences(t) === 0),
      30_000,
      "ClickHouse to match PostgreSQL after CDC took over",
    );
  }, 240_000);

  it("refuses a database that already has rows", async () => {
    await expect(
      bulkLoad(
        { users: 10, seed: 1, postsPerUser: 1, eventsPerUser: 1 },
        { pool: h.pg, ch: h.ch, progress: () => () => {}, startCdc: async () => {} },
      ),
    ).rejects.toThrow(/empty tables/);
  });
});
