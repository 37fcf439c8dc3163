import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../scripts/lib/wait.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";

/**
 * PostgreSQL → Debezium → Kafka → sink → ClickHouse on the real stack: every kind of change in
 * every table reaches ClickHouse's resolved view (`<table>_current`) within 5 s.
 */
describe("CDC pipeline into ClickHouse", () => {
  let h: CdcHarness;
  const lags: number[] = [];

  beforeAll(async () => {
    h = await startCdcHarness();
  }, 180_000);

  afterAll(async () => {
    if (lags.length) {
      const s = [...lags].sort((a, b) => a - b);
      const p = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
      console.log(
        `CDC lag (commit → visible in the resolved view), n=${s.length}: p50 ${p(0.5)} ms, p95 ${p(0.95)} ms`,
      );
    }
    await h?.teardown();
  }, 60_000);

  const sql = (text: string, params: unknown[] = []) => h.pg.query(text, params);
  const current = async (view: string, where: string, params: Record<string, unknown>) => {
    const rs = await h.ch.query({
      query: `SELECT * FROM ${view} WHERE ${where}`,
      query_params: params,
      format: "JSONEachRow",
    });
    return rs.json<Record<string, unknown>>();
  };
  /** Runs a write, then waits (≤ 5 s) until the resolved view satisfies `check`. */
  const expectVisible = async (
    write: () => Promise<unknown>,
    view: string,
    where: string,
    params: Record<string, unknown>,
    check: (rows: Record<string, unknown>[]) => boolean,
    what: string,
  ) => {
    await write();
    lags.push(await waitFor(async () => check(await current(view, where, params)), 5000, what));
  };
  const newUser = async (handle: string) => {
    const id = randomUUID();
    await sql("INSERT INTO users (id, handle) VALUES ($1, $2)", [id, handle]);
    return id;
  };

  it("users: insert, update, soft delete, hard delete", async () => {
    const id = randomUUID();
    const w = "id = {id:UUID}";
    await expectVisible(
      () => sql("INSERT INTO users (id, handle) VALUES ($1, 'u_one')", [id]),
      "users_current",
      w,
      { id },
      (r) => r.length === 1,
      "user insert",
    );
    await expectVisible(
      () => sql("UPDATE users SET bio = 'héllo' WHERE id = $1", [id]),
      "users_current",
      w,
      { id },
      (r) => r[0]?.bio === "héllo",
      "user update",
    );
    await expectVisible(
      () => sql("UPDATE users SET deleted_at = now() WHERE id = $1", [id]),
      "users_current",
      w,
      { id },
      (r) => r[0]?.deleted_at !== null,
      "user soft delete",
    );
    await expectVisible(
      () => sql("DELETE FROM users WHERE id = $1", [id]),
      "users_current",
      w,
      { id },
      (r) => r.length === 0,
      "user hard delete",
    );
  });

  it("posts: insert, update, soft delete, hard delete", async () => {
    const author = await newUser("p_author");
    const id = randomUUID();
    const w = "id = {id:UUID}";
    await expectVisible(
      () => sql("INSERT INTO posts (id, author_id, text) VALUES ($1, $2, 'first')", [id, author]),
      "posts_current",
      w,
      { id },
      (r) => r[0]?.author_id === author,
      "post insert",
    );
    await expectVisible(
      () => sql("UPDATE posts SET text = 'edited' WHERE id = $1", [id]),
      "posts_current",
      w,
      { id },
      (r) => r[0]?.text === "edited",
      "post update",
    );
    await expectVisible(
      () => sql("UPDATE posts SET deleted_at = now() WHERE id = $1", [id]),
      "posts_current",
      w,
      { id },
      (r) => r[0]?.deleted_at !== null,
      "post soft delete",
    );
    await expectVisible(
      () => sql("DELETE FROM posts WHERE id = $1", [id]),
      "posts_current",
      w,
      { id },
      (r) => r.length === 0,
      "post hard delete",
    );
    // posts_by_id follows posts_cdc through its view.
    const byId = await current("posts_by_id FINAL", w, { id });
    expect(byId).toHaveLength(0);
  });

  it("follows: insert, update, soft delete, hard delete", async () => {
    const a = await newUser("f_a");
    const b = await newUser("f_b");
    const w = "follower_id = {a:UUID} AND followee_id = {b:UUID}";
    const p = { a, b };
    await expectVisible(
      () => sql("INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)", [a, b]),
      "follows_current",
      w,
      p,
      (r) => r.length === 1,
      "follow insert",
    );
    await expectVisible(
      () => sql("UPDATE follows SET created_at = created_at - interval '1 day' WHERE follower_id = $1", [a]),
      "follows_current",
      w,
      p,
      (r) => r[0]?.updated_at !== r[0]?.created_at,
      "follow update",
    );
    await expectVisible(
      () => sql("UPDATE follows SET deleted_at = now() WHERE follower_id = $1", [a]),
      "follows_current",
      w,
      p,
      (r) => r[0]?.deleted_at !== null,
      "follow soft delete",
    );
    await expectVisible(
      () => sql("DELETE FROM follows WHERE follower_id = $1", [a]),
      "follows_current",
      w,
      p,
      (r) => r.length === 0,
      "follow hard delete",
    );
    const followers = await current(
      "(SELECT author_id, sum(followers) AS n FROM author_stats GROUP BY author_id)",
      "author_id = {b:UUID}",
      { b },
    );
    expect(Number(followers[0]?.n ?? 0)).toBe(0);
  });

  it("likes: insert, update, soft delete, hard delete; the like count follows the live state", async () => {
    const author = await newUser("l_author");
    const fan = await newUser("l_fan");
    const post = randomUUID();
    await sql("INSERT INTO posts (id, author_id, text) VALUES ($1, $2, 'likeable')", [post, author]);
    const w = "post_id = {post:UUID} AND user_id = {fan:UUID}";
    const p = { post, fan };
    // The hourly table and the per-post totals the feed reads (a view on it) must agree.
    const countIn = async (table: string) =>
      Number(
        (
          await current(`(SELECT post_id, sum(likes) AS n FROM ${table} GROUP BY post_id)`, "post_id = {post:UUID}", {
            post,
          })
        )[0]?.n ?? 0,
      );
    const likeCount = async () => {
      const [hourly, totals] = [await countIn("post_metrics_1h"), await countIn("post_totals")];
      expect(totals).toBe(hourly);
      return hourly;
    };
    await expectVisible(
      () => sql("INSERT INTO likes (user_id, post_id) VALUES ($1, $2)", [fan, post]),
      "likes_current",
      w,
      p,
      (r) => r[0]?.post_author_id === author,
      "like insert",
    );
    expect(await likeCount()).toBe(1);
    await expectVisible(
      () => sql("UPDATE likes SET created_at = created_at - interval '1 hour' WHERE post_id = $1", [post]),
      "likes_current",
      w,
      p,
      (r) => r[0]?.updated_at !== r[0]?.created_at,
      "like update",
    );
    expect(await likeCount()).toBe(1);
    await expectVisible(
      () => sql("UPDATE likes SET deleted_at = now() WHERE post_id = $1", [post]),
      "likes_current",
      w,
      p,
      (r) => r[0]?.deleted_at !== null,
      "unlike (soft delete)",
    );
    expect(await likeCount()).toBe(0);
    await expectVisible(
      () => sql("DELETE FROM likes WHERE post_id = $1", [post]),
      "likes_current",
      w,
      p,
      (r) => r.length === 0,
      "like hard delete",
    );
    expect(await likeCount()).toBe(0);
  });

  it("comments: insert, update, soft delete, hard delete", async () => {
    const author = await newUser("c_author");
    const other = await newUser("c_other");
    const post = randomUUID();
    const id = randomUUID();
    await sql("INSERT INTO posts (id, author_id, text) VALUES ($1, $2, 'commentable')", [post, author]);
    const w = "id = {id:UUID}";
    await expectVisible(
      () => sql("INSERT INTO comments (id, post_id, author_id, text) VALUES ($1, $2, $3, 'nice')", [id, post, other]),
      "comments_current",
      w,
      { id },
      (r) => r[0]?.text === "nice",
      "comment insert",
    );
    await expectVisible(
      () => sql("UPDATE comments SET text = 'nicer' WHERE id = $1", [id]),
      "comments_current",
      w,
      { id },
      (r) => r[0]?.text === "nicer",
      "comment update",
    );
    await expectVisible(
      () => sql("UPDATE comments SET deleted_at = now() WHERE id = $1", [id]),
      "comments_current",
      w,
      { id },
      (r) => r[0]?.deleted_at !== null,
      "comment soft delete",
    );
    await expectVisible(
      () => sql("DELETE FROM comments WHERE id = $1", [id]),
      "comments_current",
      w,
      { id },
      (r) => r.length === 0,
      "comment hard delete",
    );
  });

  it("blocks: insert, update, soft delete, hard delete", async () => {
    const a = await newUser("b_a");
    const b = await newUser("b_b");
    const w = "blocker_id = {a:UUID} AND blocked_id = {b:UUID}";
    const p = { a, b };
    await expectVisible(
      () => sql("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)", [a, b]),
      "blocks_current",
      w,
      p,
      (r) => r.length === 1,
      "block insert",
    );
    await expectVisible(
      () => sql("UPDATE blocks SET created_at = created_at - interval '1 day' WHERE blocker_id = $1", [a]),
      "blocks_current",
      w,
      p,
      (r) => r[0]?.updated_at !== r[0]?.created_at,
      "block update",
    );
    await expectVisible(
      () => sql("UPDATE blocks SET deleted_at = now() WHERE blocker_id = $1", [a]),
      "blocks_current",
      w,
      p,
      (r) => r[0]?.deleted_at !== null,
      "block soft delete",
    );
    await expectVisible(
      () => sql("DELETE FROM blocks WHERE blocker_id = $1", [a]),
      "blocks_current",
      w,
      p,
      (r) => r.length === 0,
      "block hard delete",
    );
  });

  it("a poison message lands in dead_letters while later changes still arrive", async () => {
    const producer = h.kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic: h.topic("cdc.posts"), messages: [{ key: "poison", value: "{not json" }] });
      await producer.send({
        topic: h.topic("events"),
        messages: [{ key: "poison", value: JSON.stringify({ event_id: "nope", type: "like" }) }],
      });
    } finally {
      await producer.disconnect();
    }
    const author = await newUser("after_poison");
    const id = randomUUID();
    await expectVisible(
      () => sql("INSERT INTO posts (id, author_id, text) VALUES ($1, $2, 'after')", [id, author]),
      "posts_current",
      "id = {id:UUID}",
      { id },
      (r) => r.length === 1,
      "post after poison",
    );
    await waitFor(async () => (await current("dead_letters", "key = 'poison'", {})).length === 2, 5000, "dead letters");
    const dead = await current("dead_letters", "key = 'poison'", {});
    const errors = dead.map((d) => String(d.error));
    expect(errors.some((e) => /invalid JSON/.test(e))).toBe(true);
    expect(errors.some((e) => /event_id: must be a UUID/.test(e))).toBe(true);
  });
});
