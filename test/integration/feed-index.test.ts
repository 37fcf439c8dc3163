/**
 * The feed through the real worker (wrangler dev) on the serving index, with the whole pipeline
 * running: writes through the edge to the origin → PostgreSQL → Debezium → Kafka → the index
 * updater (and the sink → ClickHouse); events through the edge → Redis stream → relay → Kafka.
 * Pins: a miss built from the index (no ClickHouse), freshness of every kind of change in the
 * next new session, paging that never repeats or skips while the fallback-snapshots job, writes and a second
 * device run, cursors that cannot be forged, and the index serving with ClickHouse down.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeCursor } from "#core/feed/cursor.ts";
import type { FeedItemOut } from "#core/feed/present.ts";
import { feedVersionKey, SNAPSHOT_TTL_S, snapshotKey, snapshotPointerKey } from "#core/keys.ts";
import { decodeSnapshotItem, SNAPSHOT_REUSE_MS } from "#core/serving/snapshot.ts";
import { buildFallbackSnapshot } from "../../origin/src/jobs/generators.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { startWranglerDev } from "../../scripts/lib/wrangler.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";

/** The freshness contract: a change is in the next new session within this. */
const FRESHNESS_MS = 2000;

interface FeedBody {
  items: FeedItemOut[];
  next_cursor: string | null;
}

describe("feed from the serving index, through the worker", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  const viewer = randomUUID();
  const other = randomUUID();
  const authors = [randomUUID(), randomUUID(), randomUUID()];
  const stranger = randomUUID();
  const users = [viewer, other, stranger, ...authors];
  const api = (user: string, method: string, path: string, body?: unknown, base?: string) =>
    w.api(user, method, path, body, base);
  const ok = (res: Promise<Response>, status: number) => w.ok(res, status);
  const feed = async (query: string, user = viewer, base?: string) => {
    const res = await ok(api(user, "GET", `/api/v1/feed${query}`, undefined, base), 200);
    return { res, body: (await res.json()) as FeedBody };
  };
  const post = async (by: string, text: string) => {
    const r = await ok(api(by, "POST", "/api/v1/posts", { text }), 201);
    return ((await r.json()) as { post: { id: string } }).post.id;
  };
  /**
   * Waits until the next new session shows `check` and asserts it took at most FRESHNESS_MS
   * (the contract: any change visible in the next cursorless feed within 2 s); waits longer
   * only to say by how much a late change missed.
   */
  const visibleWithin = async (check: (b: FeedBody) => boolean, what: string, user = viewer) => {
    const t0 = Date.now();
    await waitFor(async () => check((await feed("?limit=100&explain=1", user)).body), 15_000, what);
    const ms = Date.now() - t0;
    console.log(`freshness: ${what} ${ms} ms`);
    expect(ms, `${what}: visible in the next new session after ${ms} ms`).toBeLessThanOrEqual(FRESHNESS_MS);
    return ms;
  };

  beforeAll(async () => {
    h = await startCdcHarness();
    w = await startEdgeWorld(h, { relay: true, index: true });
    for (const [i, u] of users.entries())
      await ok(api(u, "PUT", "/api/v1/users/me", { handle: `fi${h.id}_${i}` }), 200);
    for (const a of authors) await ok(api(viewer, "PUT", `/api/v1/follows/${a}`), 204);
    await ok(api(other, "PUT", `/api/v1/follows/${authors[0]}`), 204);
    for (const [i, a] of authors.entries()) for (let k = 0; k < 8; k++) await post(a, `post ${k} by author ${i}`);
    await waitFor(async () => (await w.redis.exists(w.keys.ready)) === 1, 30_000, "the index to be ready");
    // Setup, not a freshness claim: the index may still be bootstrapping.
    await waitFor(async () => (await feed("?limit=100")).body.items.length === 24, 60_000, "the 24 followee posts");
  }, 300_000);

  afterAll(async () => {
    await w?.stop();
    await h?.teardown();
  }, 60_000);

  it("builds a miss from the index alone: Server-Timing names the index and no ClickHouse call", async () => {
    await w.redis.incr(feedVersionKey(viewer));
    const { res, body } = await feed("?limit=10&explain=1");
    expect(res.headers.get("x-cache")).toBe("MISS");
    const timing = res.headers.get("server-timing") ?? "";
    expect(timing).toMatch(/redis;dur=/);
    expect(timing).toMatch(/index;dur=/);
    expect(timing).not.toMatch(/\bch;/);
    expect(body.items).toHaveLength(10);
    expect(body.items.every((i) => i.source === "follow")).toBe(true);
  });

  it("a viewer the ready index does not hold (profile gone) takes the cold path alone; others keep the index", async () => {
    const lost = randomUUID();
    await ok(api(lost, "PUT", "/api/v1/users/me", { handle: `fi${h.id}_lost` }), 200);
    await ok(api(lost, "PUT", `/api/v1/follows/${authors[0]}`), 204);
    await waitFor(async () => (await w.redis.exists(w.keys.profile(lost))) === 1, 15_000, "the new user's profile");
    await waitFor(
      async () => (await w.redis.sismember(w.keys.followees(lost), authors[0] as string)) === 1,
      15_000,
      "the new user's follow in the index",
    );
    // The profile is taken out right before each request: a late change of the user's row (its
    // CDC message may come after the follow's) writes the profile again, and then the viewer is
    // in the index. Only a miss made while the profile is absent counts.
    const COLD = /\bch;dur=[\d.]+;desc="cold path \(viewer not in the index\)"/;
    let cold: Awaited<ReturnType<typeof feed>> | undefined;
    await waitFor(
      async () => {
        await w.redis.del(w.keys.profile(lost));
        cold = await feed("?limit=10", lost);
        return COLD.test(cold.res.headers.get("server-timing") ?? "") && cold.body.items.length > 0;
      },
      15_000,
      "a miss on the cold path with items",
    );
    expect(cold?.res.headers.get("server-timing") ?? "").toMatch(COLD);
    await w.redis.incr(feedVersionKey(viewer));
    const warm = await feed("?limit=10");
    expect(warm.res.headers.get("server-timing") ?? "").not.toMatch(/\bch;/);
  });

  it("every kind of change shows in the next new session within 2 s: a followee's post, a like, a comment and its deletion, a share, an impression, a follow, a block, a post deletion, a user deletion", async () => {
    const fresh = await post(authors[1] as string, "just posted");
    await visibleWithin((b) => b.items.some((i) => i.post_id === fresh), "a followee's new post");

    await ok(api(viewer, "PUT", `/api/v1/posts/${fresh}/like`), 204);
    await visibleWithin(
      (b) => (b.items.find((i) => i.post_id === fresh)?.explain?.engagement ?? 0) > 0,
      "the viewer's like",
    );

    const commented = (await feed("?limit=100")).body.items.find(
      (i) => i.author_id === authors[1] && i.post_id !== fresh,
    )?.post_id as string;
    const r = await ok(api(viewer, "POST", `/api/v1/posts/${commented}/comments`, { text: "nice" }), 201);
    const commentId = ((await r.json()) as { comment: { id: string } }).comment.id;
    await visibleWithin(
      (b) => Math.abs((b.items.find((i) => i.post_id === commented)?.explain?.engagement ?? 0) - Math.log1p(2)) < 1e-9,
      "the viewer's comment",
    );
    await ok(api(viewer, "DELETE", `/api/v1/comments/${commentId}`), 204);
    await visibleWithin(
      (b) => (b.items.find((i) => i.post_id === commented)?.explain?.engagement ?? -1) === 0,
      "the deletion of the viewer's comment",
    );

    const shared = (await feed("?limit=100")).body.items.find((i) => i.author_id === authors[2])?.post_id as string;
    await ok(api(viewer, "POST", "/api/v1/events", { events: [{ type: "share", post_id: shared }] }), 202);
    await visibleWithin(
      (b) => Math.abs((b.items.find((i) => i.post_id === shared)?.explain?.engagement ?? 0) - Math.log1p(3)) < 1e-9,
      "the viewer's share",
    );

    await ok(api(viewer, "POST", "/api/v1/events", { events: [{ type: "impression", post_id: shared }] }), 202);
    await visibleWithin((b) => !b.items.some((i) => i.post_id === shared), "the viewer's impression");

    const strangerPost = await post(stranger, "from a stranger");
    await ok(api(viewer, "PUT", `/api/v1/follows/${stranger}`), 204);
    await visibleWithin((b) => b.items.some((i) => i.post_id === strangerPost), "a follow");

    await ok(api(viewer, "PUT", `/api/v1/blocks/${stranger}`), 204);
    await visibleWithin((b) => !b.items.some((i) => i.author_id === stranger), "a block");

    const doomed = (await feed("?limit=100")).body.items.find((i) => i.author_id === authors[0])?.post_id as string;
    await ok(api(authors[0] as string, "DELETE", `/api/v1/posts/${doomed}`), 204);
    await visibleWithin((b) => !b.items.some((i) => i.post_id === doomed), "a post deletion");

    // A user deleted (no API deletes a user yet: the row, as an operator would, through CDC).
    const leaving = randomUUID();
    await ok(api(leaving, "PUT", "/api/v1/users/me", { handle: `fi${h.id}_leaving` }), 200);
    const theirs = await post(leaving, "from someone about to leave");
    await ok(api(viewer, "PUT", `/api/v1/follows/${leaving}`), 204);
    await visibleWithin((b) => b.items.some((i) => i.post_id === theirs), "a new followee's post");
    await h.pg.query("UPDATE users SET deleted_at = now() WHERE id = $1", [leaving]);
    await visibleWithin((b) => !b.items.some((i) => i.author_id === leaving), "a user deletion");
  }, 180_000);

  it("paging never repeats or skips while the fallback-snapshots job runs, writes land and a second device starts sessions", async () => {
    await w.redis.incr(feedVersionKey(viewer));
    let { body } = await feed("?limit=5");
    // The snapshot is saved after the answer (waitUntil): read it back once it is there.
    let pointer = { rankingId: "" };
    await waitFor(
      async () => {
        pointer = JSON.parse((await w.redis.get(snapshotPointerKey(viewer))) ?? "{}") as { rankingId: string };
        return Boolean(pointer.rankingId) && (await w.redis.llen(snapshotKey(viewer, pointer.rankingId))) > 1;
      },
      5000,
      "the snapshot to be saved",
    );
    const want = (await w.redis.lrange(snapshotKey(viewer, pointer.rankingId), 1, -1)).map(
      (i) => decodeSnapshotItem(i)?.postId,
    );
    const served = body.items.map((i) => i.post_id);
    let page = 0;
    while (body.next_cursor) {
      // Between pages: the fallback-snapshots job rebuilds the viewer's ranking, a followee posts, someone
      // likes, and another device of the viewer starts a new session.
      await buildFallbackSnapshot({ ch: h.ch, redis: w.redis, keys: w.keys }, viewer);
      if (page % 2 === 0) await post(authors[page % 3] as string, `written between pages ${page}`);
      await ok(api(other, "PUT", `/api/v1/posts/${served[0]}/like`), 204);
      await feed("?limit=3"); // the second device
      ({ body } = await feed(`?limit=5&cursor=${body.next_cursor}`));
      served.push(...body.items.map((i) => i.post_id));
      page++;
    }
    expect(page).toBeGreaterThan(3);
    expect(new Set(served).size).toBe(served.length); // no repeats
    expect(served).toEqual(want); // no skips: exactly the snapshot, in order
    // A page read keeps its snapshot for the session: the longer TTL, written after the answer.
    await waitFor(
      async () => (await w.redis.ttl(snapshotKey(viewer, pointer.rankingId))) > SNAPSHOT_TTL_S,
      5000,
      "the paging TTL to be set",
    );
  }, 120_000);

  it("a tampered or foreign cursor is a 400 and never builds a ranking", async () => {
    const { body } = await feed("?limit=2");
    const before = await w.redis.get(snapshotPointerKey(viewer));
    const theirs = await feed("?limit=2", other);
    const cases = [
      encodeCursor({ rankingId: "abcdefabcdefabcd", offset: 2 }), // no such snapshot
      theirs.body.next_cursor as string, // another user's
      "not-a-cursor!",
    ];
    for (const c of cases) {
      const res = await api(viewer, "GET", `/api/v1/feed?limit=2&cursor=${encodeURIComponent(c)}`);
      expect(res.status, c).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("bad_request");
    }
    expect(await w.redis.get(snapshotPointerKey(viewer))).toBe(before);
    expect(body.next_cursor).not.toBeNull();
  });

  it("fallback snapshots keep an active user's degraded answer personal when neither the index nor ClickHouse can rank", async () => {
    // A worker whose index namespace holds nothing (the index is not ready there) and whose
    // ClickHouse is unreachable: it can rank nothing; snapshots are not namespaced.
    const degraded = await startWranglerDev({
      config: "wrangler.toml",
      vars: {
        ...w.vars,
        INDEX_NAMESPACE: `t-empty-${randomUUID().slice(0, 8)}:`,
        CLICKHOUSE_URL: "http://127.0.0.1:9",
      },
    });
    try {
      // Their own snapshot has expired: nothing personal is left, and there is no trending either.
      await w.redis.del(snapshotPointerKey(viewer));
      const none = await api(viewer, "GET", "/api/v1/feed?limit=5", undefined, degraded.url);
      expect(none.status).toBe(503);
      // The job's work for this user: a fresh ranking, kept as their last snapshot.
      const kept = await buildFallbackSnapshot({ ch: h.ch, redis: w.redis, keys: w.keys }, viewer);
      await new Promise((r) => setTimeout(r, SNAPSHOT_REUSE_MS + 100)); // past SNAPSHOT_REUSE_MS: not a reuse, a fallback
      const { res, body } = await feed("?limit=5", viewer, degraded.url);
      expect(res.headers.get("x-cache")).toBe("STALE");
      expect(body.items.map((i) => i.post_id)).toEqual(kept.items.slice(0, 5).map((i) => i.postId));
    } finally {
      await degraded.stop();
    }
  }, 120_000);

  it("with ClickHouse unreachable the index still serves new sessions", async () => {
    const broken = await startWranglerDev({
      config: "wrangler.toml",
      vars: { ...w.vars, ORIGIN_URL: "http://127.0.0.1:9", CLICKHOUSE_URL: "http://127.0.0.1:9" },
    });
    try {
      await w.redis.incr(feedVersionKey(viewer));
      const { res, body } = await feed("?limit=5", viewer, broken.url);
      expect(res.headers.get("x-cache")).toBe("MISS");
      expect(res.headers.get("server-timing")).toMatch(/index;dur=/);
      expect(body.items).toHaveLength(5);
    } finally {
      await broken.stop();
    }
  }, 120_000);
});
