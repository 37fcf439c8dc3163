/**
 * Notifications through the real pipeline: writes through the worker → PostgreSQL → Debezium →
 * Kafka → the notifications part → Redis → GET /api/v1/notifications on the worker
 * (`wrangler dev`). Likes, comments and follows by others appear grouped, one's own never; an
 * unlike, the last deleted comment and an unfollow take the actor out; blocked (either way) and
 * deleted actors are hidden; a replay of every message by a second consumer group changes no
 * key; seen marks groups read and the unread count drops, monotonically; the checker agrees with
 * PostgreSQL and names a group broken on purpose.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import type { Kafka } from "kafkajs";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cdcTopic } from "#core/topics.ts";
import { checkNotifications } from "../../origin/src/notifications/check.ts";
import { NOTIFYING_TABLES } from "../../origin/src/notifications/ops.ts";
import { NotificationsPart } from "../../origin/src/notifications/part.ts";
import { NotificationWriter } from "../../origin/src/notifications/writer.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { REDIS_URL } from "../../scripts/lib/world.ts";
import { devToken } from "../../scripts/token.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";

interface Group {
  id: string;
  kind: "like" | "comment" | "follow";
  post_id: string | null;
  day: string;
  actors: { id: string; handle: string; display_name: string }[];
  count: number;
  latest_at: string;
  unread: boolean;
}
interface Page {
  items: Group[];
  unread: number;
  next_cursor: string | null;
}

/** What must hold of any page whatever the data: what a broken store shows first. */
function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.items.forEach((g, i) => {
    const ids = g.actors.map((a) => a.id);
    if (new Set(ids).size !== ids.length) problems.push(`${g.id}: an actor twice`);
    if (g.actors.length === 0 || g.actors.length > 3) problems.push(`${g.id}: ${g.actors.length} actors`);
    if (g.count < g.actors.length) problems.push(`${g.id}: count ${g.count} < ${g.actors.length} actors`);
    if ((g.kind === "follow") !== (g.post_id === null)) problems.push(`${g.id}: post_id ${g.post_id}`);
    if (g.latest_at.slice(0, 10) !== g.day) problems.push(`${g.id}: latest_at ${g.latest_at} not on ${g.day}`);
    const prev = page.items[i - 1];
    if (prev && prev.latest_at < g.latest_at) problems.push(`${g.id}: newer than the group before it`);
  });
  if (page.unread < page.items.filter((g) => g.unread).length) problems.push(`unread ${page.unread} too low`);
  return problems;
}

/** Whether a consumer group has committed every message of the notifying topics. */
async function caughtUp(kafka: Kafka, groupId: string, topics: string[]): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = await admin.fetchOffsets({ groupId, topics });
    for (const { topic, partitions } of committed) {
      const high = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
      for (const p of partitions) if (Math.max(Number(p.offset), 0) < (high.get(p.partition) ?? 0)) return false;
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

const run = promisify(execFile);

describe("notifications through the pipeline and the worker", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  const [author, f1, f2, f3, f4, blocker] = Array.from({ length: 6 }, () => randomUUID()) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  let post = "";
  let f1Post = "";
  const comments: string[] = [];

  const page = async (user: string, query = ""): Promise<Page> => {
    const res = await w.ok(w.api(user, "GET", `/api/v1/notifications${query}`), 200);
    const body = (await res.json()) as Page;
    expect(pageProblems(body)).toEqual([]);
    return body;
  };
  const byKind = (p: Page, kind: Group["kind"]) => p.items.find((g) => g.kind === kind);
  const actorsOf = (g: Group | undefined) => g?.actors.map((a) => a.id) ?? null;
  /** Polls the author's page until `check` holds (the pipeline is ~1 s behind the writes). */
  const until = async (user: string, what: string, check: (p: Page) => boolean): Promise<Page> => {
    let last: Page | null = null;
    try {
      await waitFor(
        async () => {
          last = await page(user);
          return check(last);
        },
        20_000,
        what,
        200,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last page: ${JSON.stringify(last)}`);
    }
    return last as unknown as Page;
  };

  beforeAll(async () => {
    h = await startCdcHarness();
    w = await startEdgeWorld(h, { index: true, notifications: true });
    for (const [i, u] of [author, f1, f2, f3, f4, blocker].entries()) {
      await w.ok(w.api(u, "PUT", "/api/v1/users/me", { handle: `nt${h.id}_${i}`, display_name: `User ${i}` }), 200);
    }
    await waitFor(async () => (await w.redis.exists(w.keys.ready)) === 1, 60_000, "the index to be ready");
  }, 180_000);

  afterAll(async () => {
    await w?.stop();
    await h?.teardown();
  }, 60_000);

  it("likes, comments and follows by others appear grouped; one's own never; a blocker is hidden", async () => {
    const created = async (by: string, path: string, body: unknown) =>
      (await (await w.ok(w.api(by, "POST", path, body), 201)).json()) as Record<string, { id: string }>;
    post = (await created(author, "/api/v1/posts", { text: "notify me" })).post?.id as string;
    f1Post = (await created(f1, "/api/v1/posts", { text: "mine" })).post?.id as string;
    for (const u of [f1, f2, f3, author]) await w.ok(w.api(u, "PUT", `/api/v1/posts/${post}/like`), 204);
    for (const [u, text] of [
      [f1, "one"],
      [f1, "two"],
      [f2, "three"],
      [author, "own"],
    ] as const) {
      comments.push((await created(u, `/api/v1/posts/${post}/comments`, { text })).comment?.id as string);
    }
    for (const u of [f1, f2]) await w.ok(w.api(u, "PUT", `/api/v1/follows/${author}`), 204);
    await w.ok(w.api(author, "PUT", `/api/v1/posts/${f1Post}/like`), 204);
    // The blocker likes the post, then blocks its author: hidden from them from then on.
    await w.ok(w.api(blocker, "PUT", `/api/v1/posts/${post}/like`), 204);
    await w.ok(w.api(blocker, "PUT", `/api/v1/blocks/${author}`), 204);

    const p = await until(
      author,
      "likes, comments and follows grouped",
      (p) => byKind(p, "like")?.count === 3 && byKind(p, "comment")?.count === 2 && byKind(p, "follow")?.count === 2,
    );
    expect(p.items).toHaveLength(3);
    const like = byKind(p, "like") as Group;
    expect(like).toMatchObject({ post_id: post, unread: true, id: `l:${post}:${like.day}` });
    expect(actorsOf(like)).toEqual([f3, f2, f1]); // newest first, the blocker left out
    expect(like.actors[0]).toEqual({ id: f3, handle: `nt${h.id}_3`, display_name: "User 3" });
    expect(actorsOf(byKind(p, "comment"))).toEqual([f2, f1]);
    expect(byKind(p, "comment")?.post_id).toBe(post);
    expect(actorsOf(byKind(p, "follow"))).toEqual([f2, f1]);
    expect(byKind(p, "follow")?.post_id).toBeNull();
    expect(p.unread).toBe(3);
    expect(p.items.flatMap((g) => g.actors.map((a) => a.id))).not.toContain(author);
    // The author's like of f1's post notifies f1; their own likes and comments notified no one.
    const f1Page = await until(f1, "the author's like at f1", (p) => byKind(p, "like")?.count === 1);
    expect(actorsOf(byKind(f1Page, "like"))).toEqual([author]);
    expect(byKind(f1Page, "like")?.post_id).toBe(f1Post);
  }, 60_000);

  it("an unlike, the last deleted comment and an unfollow take the actor out; blocking and deletion hide", async () => {
    await w.ok(w.api(f2, "DELETE", `/api/v1/posts/${post}/like`), 204);
    await w.ok(w.api(f1, "DELETE", `/api/v1/comments/${comments[0]}`), 204); // f1 still has "two"
    await w.ok(w.api(f2, "DELETE", `/api/v1/follows/${author}`), 204);
    let p = await until(
      author,
      "the unlike and the unfollow",
      (p) => byKind(p, "like")?.count === 2 && byKind(p, "follow")?.count === 1,
    );
    expect(actorsOf(byKind(p, "like"))).toEqual([f3, f1]);
    expect(actorsOf(byKind(p, "comment"))).toEqual([f2, f1]);
    expect(actorsOf(byKind(p, "follow"))).toEqual([f1]);

    await w.ok(w.api(f1, "DELETE", `/api/v1/comments/${comments[1]}`), 204); // f1's last
    p = await until(author, "f1's last comment gone", (p) => byKind(p, "comment")?.count === 1);
    expect(actorsOf(byKind(p, "comment"))).toEqual([f2]);

    // Whom the viewer blocks is hidden too, and a deleted user.
    await w.ok(w.api(author, "PUT", `/api/v1/blocks/${f3}`), 204);
    await h.pg.query("UPDATE users SET deleted_at = now() WHERE id = $1", [f2]);
    p = await until(
      author,
      "the blocked and the deleted user hidden",
      (p) => byKind(p, "like")?.count === 1 && byKind(p, "comment") === undefined,
    );
    expect(actorsOf(byKind(p, "like"))).toEqual([f1]);
    expect(p.items.map((g) => g.kind).sort()).toEqual(["follow", "like"]);
    await w.ok(w.api(author, "DELETE", `/api/v1/blocks/${f3}`), 204);
    await h.pg.query("UPDATE users SET deleted_at = NULL WHERE id = $1", [f2]);
    await until(author, "both back", (p) => byKind(p, "like")?.count === 2 && byKind(p, "comment")?.count === 1);

    // What Redis holds is what PostgreSQL says (hidden users are a read rule, not a removal).
    expect(await checkNotifications(h.pg, w.redis, w.notificationKeys, [author, f1, f2, f3])).toEqual([]);
  }, 60_000);

  it("a deleted post takes its like and comment groups along", async () => {
    const gone = (
      (await (await w.ok(w.api(author, "POST", "/api/v1/posts", { text: "soon gone" }), 201)).json()) as {
        post: { id: string };
      }
    ).post.id;
    await w.ok(w.api(f4, "PUT", `/api/v1/posts/${gone}/like`), 204);
    await w.ok(w.api(f4, "POST", `/api/v1/posts/${gone}/comments`, { text: "hi" }), 201);
    const ofGone = (p: Page) => p.items.filter((g) => g.post_id === gone).map((g) => g.kind);
    await until(author, "the like and the comment of the new post", (p) => ofGone(p).length === 2);
    await w.ok(w.api(author, "DELETE", `/api/v1/posts/${gone}`), 204);
    const p = await until(author, "the deleted post's groups gone", (p) => ofGone(p).length === 0);
    expect(p.items.some((g) => g.kind === "like" && g.post_id === post)).toBe(true);
    const stored = await w.redis.zrange(w.notificationKeys.groups(author), 0, -1);
    expect(stored.filter((g) => g.includes(gone))).toEqual([]);
    expect(await checkNotifications(h.pg, w.redis, w.notificationKeys, [author, f4])).toEqual([]);
  }, 60_000);

  it("a replay of every message, by a fresh consumer group, changes nothing", async () => {
    const topics = NOTIFYING_TABLES.map((t) => h.topic(cdcTopic(t)));
    const dump = async () => {
      const out: Record<string, unknown> = {};
      for (const k of (await w.redis.keys(`${w.notificationKeys.prefix}*`)).sort()) {
        const type = await w.redis.type(k);
        out[k] =
          type === "zset"
            ? await w.redis.zrange(k, 0, -1, "WITHSCORES")
            : type === "hash"
              ? await w.redis.hgetall(k)
              : await w.redis.get(k);
      }
      return out;
    };
    const live = w.notifications as NotificationsPart;
    await waitFor(
      async () => live.stats.lastBatchAt !== null && Date.now() - live.stats.lastBatchAt > 1500,
      20_000,
      "the part idle",
    );
    const before = await dump();
    const pageBefore = await page(author);
    const groupId = `test-notifications-replay-${h.id}`;
    const replay = new NotificationsPart(
      h.kafka,
      new NotificationWriter(w.redis, w.notificationKeys),
      pino({ level: "warn" }),
      {
        groupId,
        topicNamespace: h.config.kafka.topicNamespace,
      },
    );
    await replay.start();
    try {
      await waitFor(() => caughtUp(h.kafka, groupId, topics), 30_000, "the replay to catch up", 500);
      expect(replay.stats.changes).toBeGreaterThan(10);
    } finally {
      await replay.stop();
    }
    expect(await dump()).toEqual(before);
    expect(await page(author)).toEqual(pageBefore);
  }, 60_000);

  it("seen marks groups read and the unread count drops; an older mark unmarks nothing; a new action is unread", async () => {
    let p = await page(author);
    expect(p.unread).toBeGreaterThan(0);
    const newest = p.items[0] as Group;
    await w.ok(w.api(author, "POST", "/api/v1/notifications/seen", { until: newest.latest_at }), 204);
    p = await page(author);
    expect(p.unread).toBe(0);
    expect(p.items.every((g) => !g.unread)).toBe(true);
    // Older, as a second device might send: nothing changes.
    await w.ok(w.api(author, "POST", "/api/v1/notifications/seen", { until: 0 }), 204);
    expect(await page(author)).toEqual(p);

    await w.ok(w.api(f4, "PUT", `/api/v1/posts/${post}/like`), 204);
    p = await until(author, "f4's like unread", (p) => byKind(p, "like")?.actors[0]?.id === f4);
    expect(byKind(p, "like")).toMatchObject({ unread: true, count: 3 });
    expect(p.unread).toBe(1);
    expect((byKind(p, "follow") as Group).unread).toBe(false);
    await w.ok(w.api(author, "POST", "/api/v1/notifications/seen", { until: Date.now() }), 204);
    expect((await page(author)).unread).toBe(0);
  }, 60_000);

  it("pages newest first without repeats; refuses bad input", async () => {
    const all = await page(author, "?limit=50");
    expect(all.items.length).toBeGreaterThanOrEqual(2);
    const served: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const q: string = `?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const p: Page = await page(author, q);
      served.push(...p.items.map((g) => g.id));
      cursor = p.next_cursor;
      if (!cursor) break;
    }
    expect(served).toEqual(all.items.map((g) => g.id));
    // Each round trip is named in Server-Timing (the benchmark reads them to say where time goes).
    const timed = await w.api(author, "GET", "/api/v1/notifications?limit=50");
    expect(timed.headers.get("server-timing") ?? "").toMatch(/^page;dur=[\d.]+, actors;dur=[\d.]+, total;dur=[\d.]+$/);

    const status = async (user: string | null, method: string, path: string, body?: unknown) =>
      (await w.api(user, method, path, body)).status;
    expect(await status(null, "GET", "/api/v1/notifications")).toBe(401);
    expect(await status(null, "POST", "/api/v1/notifications/seen", { until: 0 })).toBe(401);
    expect(await status(author, "GET", "/api/v1/notifications?cursor=garbage")).toBe(400);
    expect(await status(author, "GET", "/api/v1/notifications?limit=51")).toBe(400);
    expect(await status(author, "GET", "/api/v1/notifications?extra=1")).toBe(400);
    expect(await status(author, "POST", "/api/v1/notifications/seen", { until: "yesterday" })).toBe(400);
    expect(await status(author, "POST", "/api/v1/notifications/seen", {})).toBe(400);
    const text = await fetch(`${w.edge.url}/api/v1/notifications/seen`, {
      method: "POST",
      headers: { authorization: `Bearer ${await devToken(author, 60, w.jwtSecret)}`, "content-type": "text/plain" },
      body: "until=0",
    });
    expect(text.status).toBe(415);
    const bad = await w.api(author, "POST", "/api/v1/notifications/seen", "x".repeat(2000));
    expect(bad.status).toBe(413);
    const err = (await (await w.api(author, "GET", "/api/v1/notifications?cursor=garbage")).json()) as {
      error: { code: string };
    };
    expect(err.error.code).toBe("bad_request");
  }, 60_000);

  it("the checker names a group broken on purpose (a duplicated actor, a lost one), and the page shows it", async () => {
    const nk = w.notificationKeys;
    const like = byKind(await page(author), "like") as Group;
    const summary = (await w.redis.hget(nk.summaries(author), like.id)) as string;
    const [count, rest] = summary.split("|") as [string, string];
    const [firstId, firstMs] = rest.split(",") as [string, string];
    // A duplicated actor in the summary.
    await w.redis.hset(nk.summaries(author), like.id, `${Number(count) + 1}|${firstId},${firstMs},${rest}`);
    const broken = await checkNotifications(h.pg, w.redis, nk, [author]);
    expect(broken).toEqual([expect.objectContaining({ user: author, gid: like.id, what: "summary" })]);
    const res = await w.ok(w.api(author, "GET", "/api/v1/notifications"), 200);
    expect(pageProblems((await res.json()) as Page)).toEqual([`${like.id}: an actor twice`]);
    await w.redis.hset(nk.summaries(author), like.id, summary);
    // An actor lost from the group's actors.
    await w.redis.zrem(nk.actors(author, like.id), firstId);
    expect(await checkNotifications(h.pg, w.redis, nk, [author])).toEqual([
      { user: author, gid: like.id, what: "actor", actor: firstId, expected: firstMs, actual: null },
    ]);
    // The command, as a user runs it, over every user: exit 1 naming the lost actor and a
    // group nobody should have (found by scanning Redis), then 0 once both are mended.
    const stray = randomUUID();
    await w.redis.zadd(nk.groups(stray), Date.now(), "f:2026-12-01");
    const cli = async () => {
      const env = {
        ...process.env,
        DATABASE_URL: h.world.databaseUrl,
        INDEX_NAMESPACE: nk.prefix.slice(0, -"nt:".length),
        REDIS_URL,
      };
      try {
        const r = await run("npm", ["run", "-s", "check:notifications"], { env, timeout: 60_000 });
        return { code: 0, out: r.stdout };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, out: `${e.stdout}${e.stderr}` };
      }
    };
    let r = await cli();
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${author} ${like.id} actor ${firstId}: redis - | postgres ${firstMs}`);
    expect(r.out).toContain(`${stray} f:2026-12-01 extra group`);
    expect(r.out).toContain("INCONSISTENT: 2 differences");
    await w.redis.zadd(nk.actors(author, like.id), firstMs, firstId);
    await w.redis.del(nk.groups(stray));
    expect(await checkNotifications(h.pg, w.redis, nk, [author])).toEqual([]);
    r = await cli();
    expect(r.out).toContain("consistent, 0 differences");
    expect(r.code).toBe(0);
  }, 90_000);
});
