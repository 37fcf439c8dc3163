/**
 * The feed through the real worker (wrangler dev) on the serving index, with the whole pipeline
 * running: writes through the edge to the origin → PostgreSQL → Debezium → Kafka → the index
 * updater (and the sink → ClickHouse); events through the edge → Redis stream → relay → Kafka.
 * Pins: a miss built from the index (no ClickHouse), freshness of every kind of change in the
 * next new session, paging that never repeats or skips while the warmer, writes and a second
 * device run, cursors that cannot be forged, and the index serving with ClickHouse down.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  encodeCursor,
  type FeedItemOut,
  feedVersionKey,
  indexKeys,
  seenKey,
  snapshotKey,
  snapshotPointerKey,
} from "../../edge/core/index.ts";
import { ServingIndex } from "../../origin/src/index/serving-index.ts";
import { warmFeed } from "../../origin/src/jobs/generators.ts";
import { EventRelay } from "../../origin/src/relay/relay.ts";
import { writeApp } from "../../origin/src/writes/routes.ts";
import { devToken } from "../../scripts/token.ts";
import { type CdcHarness, CH_URL, startCdcHarness, waitFor } from "./support/cdc.ts";
import { freePort, startWranglerDev, type WranglerDev } from "./support/wrangler.ts";

const JWT_SECRET = `feed-index-test-${randomBytes(16).toString("hex")}`;
const ORIGIN_SECRET = `origin-test-${randomBytes(16).toString("hex")}`;
const BRIDGE_URL = `http://127.0.0.1:${process.env.REDIS_BRIDGE_PORT ?? 8079}`;
const BRIDGE_TOKEN = process.env.REDIS_BRIDGE_TOKEN ?? "local-dev-token";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

interface FeedBody {
  items: FeedItemOut[];
  next_cursor: string | null;
}

describe("feed from the serving index, through the worker", () => {
  let h: CdcHarness;
  let origin: ServerType;
  let edge: WranglerDev;
  let redis: Redis;
  let relayRedis: Redis;
  let relay: EventRelay;
  let index: ServingIndex;
  const ns = `t${randomBytes(4).toString("hex")}:`;
  const keys = indexKeys(ns);
  const stream = `t:events:${randomBytes(4).toString("hex")}`;
  const viewer = randomUUID();
  const other = randomUUID();
  const authors = [randomUUID(), randomUUID(), randomUUID()];
  const stranger = randomUUID();
  const users = [viewer, other, stranger, ...authors];
  const tokens = new Map<string, string>();
  const vars = () => ({
    JWT_SECRET,
    ORIGIN_SHARED_SECRET: ORIGIN_SECRET,
    UPSTASH_REDIS_REST_URL: BRIDGE_URL,
    UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
    CLICKHOUSE_URL: CH_URL,
    CLICKHOUSE_DATABASE: h.config.clickhouse.database,
    EVENTS_RATE_LIMIT: "1000/10s",
    EVENTS_STREAM: stream,
    INDEX_NAMESPACE: ns,
  });

  const api = async (user: string, method: string, path: string, body?: unknown, base = edge.url) => {
    if (!tokens.has(user)) tokens.set(user, await devToken(user, 3600, JWT_SECRET));
    return fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${tokens.get(user)}` },
      body: body === undefined ? null : JSON.stringify(body),
    });
  };
  const ok = async (res: Promise<Response>, status: number) => {
    const r = await res;
    expect(r.status, await r.clone().text()).toBe(status);
    return r;
  };
  const feed = async (query: string, user = viewer, base?: string) => {
    const res = await ok(api(user, "GET", `/api/v1/feed${query}`, undefined, base), 200);
    return { res, body: (await res.json()) as FeedBody };
  };
  const post = async (by: string, text: string) => {
    const r = await ok(api(by, "POST", "/api/v1/posts", { text }), 201);
    return ((await r.json()) as { post: { id: string } }).post.id;
  };
  /** Waits until the next new session shows `check`; returns how long that took. */
  const visibleWithin = async (check: (b: FeedBody) => boolean, what: string, user = viewer) => {
    const t0 = Date.now();
    await waitFor(async () => check((await feed("?limit=100&explain=1", user)).body), 5000, what);
    const ms = Date.now() - t0;
    console.log(`${what}: visible in the next new session after ${ms} ms`);
    return ms;
  };

  beforeAll(async () => {
    h = await startCdcHarness();
    redis = new Redis(REDIS_URL);
    relayRedis = new Redis(REDIS_URL);
    index = new ServingIndex(h.kafka, h.ch, redis, keys, pino({ level: "warn" }), {
      groupId: `index-${h.id}`,
      topicNamespace: h.config.kafka.topicNamespace,
      sinkGroupId: `test-sink-${h.id}`,
      watchMs: 500,
    });
    await index.start();
    const producer = h.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    relay = new EventRelay(relayRedis, producer, pino({ level: "warn" }), {
      stream,
      topic: h.topic("events"),
      group: `relay-${h.id}`,
      blockMs: 100,
    });
    await relay.start();
    const port = await freePort();
    const app = new Hono().route(
      "/v1",
      writeApp({ pg: h.pg, redis, sharedSecret: ORIGIN_SECRET, log: pino({ level: "silent" }) }),
    );
    origin = serve({ fetch: app.fetch, hostname: "127.0.0.1", port });
    edge = await startWranglerDev({
      config: "wrangler.toml",
      vars: { ...vars(), ORIGIN_URL: `http://127.0.0.1:${port}` },
    });

    for (const [i, u] of users.entries())
      await ok(api(u, "PUT", "/api/v1/users/me", { handle: `fi${h.id}_${i}` }), 200);
    for (const a of authors) await ok(api(viewer, "PUT", `/api/v1/follows/${a}`), 204);
    await ok(api(other, "PUT", `/api/v1/follows/${authors[0]}`), 204);
    for (const [i, a] of authors.entries()) for (let k = 0; k < 8; k++) await post(a, `post ${k} by author ${i}`);
    await waitFor(async () => (await redis.exists(keys.ready)) === 1, 30_000, "the index to be ready");
    await visibleWithin((b) => b.items.length === 24, "the 24 posts of the followees");
  }, 300_000);

  afterAll(async () => {
    await edge?.stop();
    origin?.close();
    await relay?.stop().catch(() => {});
    relayRedis?.disconnect();
    await index?.stop().catch(() => {});
    if (redis) {
      const all: string[] = [];
      let cursor = "0";
      do {
        const [next, found] = await redis.scan(cursor, "MATCH", `${ns}*`, "COUNT", 1000);
        cursor = next;
        all.push(...found);
      } while (cursor !== "0");
      await redis.del(stream, ...all, ...users.flatMap((u) => [seenKey(u), feedVersionKey(u), snapshotPointerKey(u)]));
      redis.disconnect();
    }
    await h?.teardown();
  }, 60_000);

  it("builds a miss from the index alone: Server-Timing names the index and no ClickHouse call", async () => {
    await redis.incr(feedVersionKey(viewer));
    const { res, body } = await feed("?limit=10&explain=1");
    expect(res.headers.get("x-cache")).toBe("MISS");
    const timing = res.headers.get("server-timing") ?? "";
    expect(timing).toMatch(/redis;dur=/);
    expect(timing).toMatch(/index;dur=/);
    expect(timing).not.toMatch(/\bch;/);
    expect(body.items).toHaveLength(10);
    expect(body.items.every((i) => i.source === "follow")).toBe(true);
  });

  it("every kind of change shows in the next new session: a followee's post, a like, a share, an impression, a follow, a block, a deletion", async () => {
    const fresh = await post(authors[1] as string, "just posted");
    await visibleWithin((b) => b.items.some((i) => i.post_id === fresh), "a followee's new post");

    await ok(api(viewer, "PUT", `/api/v1/posts/${fresh}/like`), 204);
    await visibleWithin(
      (b) => (b.items.find((i) => i.post_id === fresh)?.explain?.engagement ?? 0) > 0,
      "the viewer's like",
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
  }, 120_000);

  it("paging never repeats or skips while the warmer runs, writes land and a second device starts sessions", async () => {
    await redis.incr(feedVersionKey(viewer));
    let { body } = await feed("?limit=5");
    // The snapshot is saved after the answer (waitUntil): read it back once it is there.
    let pointer = { rankingId: "" };
    await waitFor(
      async () => {
        pointer = JSON.parse((await redis.get(snapshotPointerKey(viewer))) ?? "{}") as { rankingId: string };
        return Boolean(pointer.rankingId) && (await redis.llen(snapshotKey(pointer.rankingId))) > 1;
      },
      5000,
      "the snapshot to be saved",
    );
    const want = (await redis.lrange(snapshotKey(pointer.rankingId), 1, -1)).map(
      (i) => (JSON.parse(i) as { postId: string }).postId,
    );
    const served = body.items.map((i) => i.post_id);
    let page = 0;
    while (body.next_cursor) {
      // Between pages: the warmer rebuilds the viewer's ranking, a followee posts, someone
      // likes, and another device of the viewer starts a new session.
      await warmFeed({ ch: h.ch, redis, keys }, viewer);
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
  }, 120_000);

  it("a tampered or foreign cursor is a 400 and never builds a ranking", async () => {
    const { body } = await feed("?limit=2");
    const before = await redis.get(snapshotPointerKey(viewer));
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
    expect(await redis.get(snapshotPointerKey(viewer))).toBe(before);
    expect(body.next_cursor).not.toBeNull();
  });

  it("with ClickHouse unreachable the index still serves new sessions", async () => {
    const broken = await startWranglerDev({
      config: "wrangler.toml",
      vars: { ...vars(), ORIGIN_URL: "http://127.0.0.1:9", CLICKHOUSE_URL: "http://127.0.0.1:9" },
    });
    try {
      await redis.incr(feedVersionKey(viewer));
      const { res, body } = await feed("?limit=5", viewer, broken.url);
      expect(res.headers.get("x-cache")).toBe("MISS");
      expect(res.headers.get("server-timing")).toMatch(/index;dur=/);
      expect(body.items).toHaveLength(5);
    } finally {
      await broken.stop();
    }
  }, 120_000);
});
