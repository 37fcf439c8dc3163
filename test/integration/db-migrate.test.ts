import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../origin/db/migrate.ts";
import { tempDatabase } from "../../scripts/lib/world.ts";

describe("PostgreSQL migrations on the real server", () => {
  let db: Awaited<ReturnType<typeof tempDatabase>>;
  let client: pg.Client;

  beforeAll(async () => {
    db = await tempDatabase("mig");
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await migrate(client);
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  const user = async (handle: string) =>
    (await client.query<{ id: string }>("INSERT INTO users (handle) VALUES ($1) RETURNING id", [handle])).rows[0]!.id;

  it("a second run applies nothing and succeeds", async () => {
    const again = await migrate(client);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toContain("0001");
  });

  it("refuses a self-follow and a self-block", async () => {
    const a = await user("self_follow_a");
    await expect(client.query("INSERT INTO follows (follower_id, followee_id) VALUES ($1, $1)", [a])).rejects.toThrow(
      /follows_no_self_follow/,
    );
    await expect(client.query("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $1)", [a])).rejects.toThrow(
      /blocks_no_self_block/,
    );
  });

  it("copies the post's author onto likes and comments", async () => {
    const author = await user("copy_author");
    const fan = await user("copy_fan");
    const post = (
      await client.query<{ id: string }>("INSERT INTO posts (author_id, text) VALUES ($1, 'hello') RETURNING id", [
        author,
      ])
    ).rows[0]!.id;
    const like = await client.query("INSERT INTO likes (user_id, post_id) VALUES ($1, $2) RETURNING post_author_id", [
      fan,
      post,
    ]);
    const comment = await client.query(
      "INSERT INTO comments (post_id, author_id, text) VALUES ($1, $2, 'nice') RETURNING post_author_id",
      [post, fan],
    );
    expect(like.rows[0].post_author_id).toBe(author);
    expect(comment.rows[0].post_author_id).toBe(author);
  });

  it("refuses a like or comment on a post that does not exist as a foreign-key error (23503)", async () => {
    const fan = await user("dangling_fan");
    const missing = "00000000-0000-4000-8000-00000000dead";
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => "inserted",
        (err: { code?: string }) => err.code,
      );
    expect(await codeOf(client.query("INSERT INTO likes (user_id, post_id) VALUES ($1, $2)", [fan, missing]))).toBe(
      "23503",
    );
    expect(
      await codeOf(
        client.query("INSERT INTO comments (post_id, author_id, text) VALUES ($1, $2, 'x')", [missing, fan]),
      ),
    ).toBe("23503");
  });

  it("allows one like per user and post", async () => {
    const a = await user("liker_a");
    const post = (
      await client.query<{ id: string }>("INSERT INTO posts (author_id, text) VALUES ($1, 'hi') RETURNING id", [a])
    ).rows[0]!.id;
    await client.query("INSERT INTO likes (user_id, post_id) VALUES ($1, $2)", [a, post]);
    await expect(client.query("INSERT INTO likes (user_id, post_id) VALUES ($1, $2)", [a, post])).rejects.toThrow(
      /duplicate key/,
    );
  });

  it("keeps handles unique among live users only (case-insensitive)", async () => {
    const a = await user("Handle_X");
    await expect(user("handle_x")).rejects.toThrow(/users_handle_live_key/);
    await client.query("UPDATE users SET deleted_at = now() WHERE id = $1", [a]);
    await expect(user("handle_x")).resolves.toMatch(/^[0-9a-f-]{36}$/);
  });

  it("stamps updated_at on update", async () => {
    const a = await user("touch_a");
    const before = (await client.query("SELECT updated_at FROM users WHERE id = $1", [a])).rows[0].updated_at as Date;
    await new Promise((r) => setTimeout(r, 5));
    await client.query("UPDATE users SET bio = 'x' WHERE id = $1", [a]);
    const after = (await client.query("SELECT updated_at FROM users WHERE id = $1", [a])).rows[0].updated_at as Date;
    expect(after.getTime()).toBeGreaterThan(before.getTime());
  });

  it("prepares CDC: a publication of the six core tables and the two experiment tables (0003), each with REPLICA IDENTITY FULL", async () => {
    const pub = await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_publication_tables WHERE pubname = 'feed_cdc' ORDER BY tablename",
    );
    expect(pub.rows.map((r) => r.tablename)).toEqual([
      "blocks",
      "comments",
      "experiment_changes",
      "experiments",
      "follows",
      "likes",
      "posts",
      "users",
    ]);
    const ident = await client.query<{ relname: string; relreplident: string }>(
      "SELECT relname, relreplident FROM pg_class WHERE relname = ANY($1::text[])",
      [["users", "posts", "follows", "likes", "comments", "blocks", "experiments", "experiment_changes"]],
    );
    expect(ident.rows).toHaveLength(8);
    expect(ident.rows.every((r) => r.relreplident === "f")).toBe(true);
  });

  it("refuses to run when an applied migration's file changed", async () => {
    await expect(
      migrate(client, [{ version: "0001", name: "core_schema", sql: "SELECT 1", checksum: "different" }]),
    ).rejects.toThrow(/changed after it was applied/);
  });
});
