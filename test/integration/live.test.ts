/**
 * The live channel with real parts: writes through the worker (`wrangler dev`) → PostgreSQL →
 * Debezium → Kafka → the serving-index updater and the notifications part → the origin's live
 * publisher (presence in Redis, signed publish) → the worker's internal route → the user's
 * Durable Object → the client's WebSocket. A followee's post arrives as `new_posts`, a like as
 * `notifications {unread}`; a client that reconnects with its last event id gets what changed
 * while it was away, an id the object cannot continue gets `resync`; no token is a 401 and a
 * sixth connection a 429, both in the error envelope; presence follows the connections.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveKeys } from "#core/live/presence.ts";
import { MAX_CONNECTIONS_PER_USER } from "#core/live/protocol.ts";
import { type LiveClient, openLive, rawUpgrade } from "../../scripts/lib/live-client.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";

describe("the live channel through the pipeline and the worker", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  const [author, reader, fan, other] = Array.from({ length: 4 }, () => randomUUID()) as [
    string,
    string,
    string,
    string,
  ];
  const open: LiveClient[] = [];
  const connect = async (user: string, query: Record<string, string> = {}) => {
    const c = await openLive(w.edge.url, await w.token(user), query);
    open.push(c);
    return c;
  };
  const online = async (user: string) => {
    const score = await w.redis.zscore(liveKeys(w.keys.namespace).online, user);
    return score !== null && Number(score) > Date.now();
  };

  beforeAll(async () => {
    h = await startCdcHarness();
    w = await startEdgeWorld(h, { index: true, notifications: true, live: true });
    for (const [i, u] of [author, reader, fan, other].entries()) {
      await w.ok(w.api(u, "PUT", "/api/v1/users/me", { handle: `lv${h.id}_${i}`, display_name: `Live ${i}` }), 200);
    }
    await waitFor(async () => (await w.redis.exists(w.keys.ready)) === 1, 60_000, "the index to be ready");
    await w.ok(w.api(reader, "PUT", `/api/v1/follows/${author}`), 204);
    await waitFor(
      async () => (await w.redis.zscore(w.keys.followers(author), reader)) !== null,
      20_000,
      "the follow in the index",
    );
  }, 180_000);

  afterAll(async () => {
    for (const c of open) await c.close().catch(() => {});
    await w?.stop();
    await h?.teardown();
  }, 60_000);

  it("sends new_posts to a connected follower when a followee posts, and nothing to others", async () => {
    const r = await connect(reader);
    const o = await connect(other);
    expect(await online(reader)).toBe(true);
    const t0 = Date.now();
    const res = await w.ok(w.api(author, "POST", "/api/v1/posts", { text: "live one" }), 201);
    const post = ((await res.json()) as { post: { id: string; created_at: string } }).post;
    const m = await r.next((x) => x.type === "new_posts" && x.count === 1);
    expect(m.newest_at).toBe(new Date(post.created_at).toISOString());
    expect(m.id).toMatch(/^[0-9a-f]{8}\.[1-9][0-9]*$/);
    console.log(`new_posts ${m.receivedAt - t0} ms after the post`);
    // The client starts a new session showing that post: the count drops to 0, on every connection.
    r.ws.send(JSON.stringify({ type: "new_posts_seen", until: m.newest_at }));
    await r.next((x) => x.type === "new_posts" && x.count === 0);
    expect(o.messages.filter((x) => x.type === "new_posts")).toEqual([]);
  });

  it("announces a post that reaches the serving index through CDC only (the updater's hook), and the next new session shows it", async () => {
    const r = await connect(reader);
    await r.next((x) => x.type === "new_posts" && x.count === 0);
    // Not through the write API: only the CDC message → the updater → the publisher tells anyone.
    const row = await h.pg.query("INSERT INTO posts (author_id, text) VALUES ($1, 'by cdc') RETURNING id, created_at", [
      author,
    ]);
    // Meanwhile the reader keeps starting sessions, so a snapshot under SNAPSHOT_REUSE_MS old
    // (built before the post reached the index) is always there to be reused.
    const feedIds = async () =>
      (
        (await (await w.ok(w.api(reader, "GET", "/api/v1/feed?limit=100"), 200)).json()) as {
          items: { post_id: string }[];
        }
      ).items.map((i) => i.post_id);
    let polling = true;
    const poll = (async () => {
      while (polling) {
        await feedIds();
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    const m = await r.next((x) => x.type === "new_posts" && x.count === 1, 20_000);
    const told = await feedIds();
    polling = false;
    await poll;
    expect(m.newest_at).toBe((row.rows[0] as { created_at: Date }).created_at.toISOString());
    // Told of the post, the client's next new session shows it (never a reused older snapshot).
    expect(told).toContain((row.rows[0] as { id: string }).id);
  });

  it("sends notifications {unread} when a like makes one unread, and again after seen", async () => {
    const a = await connect(author);
    const before = a.messages.length;
    const res = await w.ok(w.api(author, "POST", "/api/v1/posts", { text: "like me" }), 201);
    const post = ((await res.json()) as { post: { id: string } }).post.id;
    await w.ok(w.api(fan, "PUT", `/api/v1/posts/${post}/like`), 204);
    const m = await a.next((x) => x.type === "notifications" && (x.unread ?? 0) >= 1, 15_000, before);
    const page = (await (await w.ok(w.api(author, "GET", "/api/v1/notifications"), 200)).json()) as { unread: number };
    expect(m.unread).toBe(page.unread);
    // Marking seen at the edge pushes the new count to the author's connections.
    await w.ok(w.api(author, "POST", "/api/v1/notifications/seen", { until: Date.now() }), 204);
    await a.next((x) => x.type === "notifications" && x.unread === 0, 10_000, before);
  });

  it("resumes from the last event id: what changed while away arrives, nothing twice", async () => {
    const a = await connect(author);
    // A new connection gets the current value of each type ever set: here unread 0.
    expect((await a.next((x) => x.type === "notifications")).unread).toBe(0);
    const last = a.lastId();
    expect(last).toBeDefined();
    await a.close();
    // Away: a new follower (a new unread group).
    const publishedBefore = w.live?.stats.published ?? 0;
    await w.ok(w.api(other, "PUT", `/api/v1/follows/${author}`), 204);
    await waitFor(async () => (w.live?.stats.published ?? 0) > publishedBefore, 20_000, "the follow's unread publish");
    await waitFor(
      async () =>
        ((await (await w.api(author, "GET", "/api/v1/notifications")).json()) as { unread: number }).unread === 1,
      20_000,
      "the follow's notification",
    );
    const seqOf = (id: string | undefined) => Number((id ?? "").split(".")[1]);
    const b = await connect(author, { last_event_id: last as string });
    const hello = b.messages.find((x) => x.type === "hello");
    expect(hello?.resumed).toBe(true);
    await b.next((x) => x.type === "notifications" && x.unread === 1);
    expect(b.messages.filter((x) => x.type === "resync")).toEqual([]);
    // Nothing twice: every state message after a resume is newer than the id resumed from.
    for (const x of b.messages.filter((y) => y.id))
      expect(seqOf(x.id), JSON.stringify([last, b.messages])).toBeGreaterThan(seqOf(last));
    const bLast = b.lastId() as string;
    const c = await connect(author, { last_event_id: bLast });
    await new Promise((r) => setTimeout(r, 500));
    for (const x of c.messages.filter((y) => y.id))
      expect(seqOf(x.id), JSON.stringify([bLast, c.messages])).toBeGreaterThan(seqOf(bLast));
    // An id of another epoch (the object's state expired, or a forged one) is a resync.
    const d = await connect(author, { last_event_id: "00000000.5" });
    await d.next((x) => x.type === "notifications" && x.unread === 1);
    expect(d.messages.map((x) => x.type).slice(0, 3)).toEqual(["hello", "resync", "notifications"]);
    expect(d.messages[0]?.resumed).toBe(false);
    for (const x of [b, c, d]) await x.close();
  });

  it("refuses an upgrade without a valid token with 401, and a plain GET with 400, in the envelope", async () => {
    const none = await rawUpgrade(w.edge.url);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: { code: "unauthorized" } });
    const bad = await rawUpgrade(w.edge.url, {}, { access_token: "not.a.jwt" });
    expect(bad.status).toBe(401);
    const good = await rawUpgrade(w.edge.url, {}, { access_token: await w.token(fan) });
    expect(good.status).toBe(101);
    const plain = await w.api(fan, "GET", "/api/v1/live");
    expect(plain.status).toBe(400);
    expect(await plain.json()).toMatchObject({ error: { code: "bad_request" } });
    const badId = await rawUpgrade(
      w.edge.url,
      { authorization: `Bearer ${await w.token(fan)}` },
      { last_event_id: "x" },
    );
    expect(badId.status).toBe(400);
  });

  it(`refuses the ${MAX_CONNECTIONS_PER_USER + 1}th connection of a user with 429; closing one lets the next in`, async () => {
    const user = randomUUID();
    const five = [];
    for (let i = 0; i < MAX_CONNECTIONS_PER_USER; i++) five.push(await connect(user));
    const sixth = await rawUpgrade(w.edge.url, { authorization: `Bearer ${await w.token(user)}` });
    expect(sixth.status).toBe(429);
    expect(sixth.body).toMatchObject({ error: { code: "rate_limited" } });
    expect(sixth.headers["retry-after"]).toBeDefined();
    await (five[0] as LiveClient).close();
    const again = await connect(user);
    expect(again.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("closes a connection that sends a malformed or oversized message", async () => {
    const c = await connect(fan);
    c.ws.send("x".repeat(2000));
    const code = await new Promise<number>((resolve) => c.ws.addEventListener("close", (e) => resolve(e.code)));
    expect(code).toBe(1009);
    const d = await connect(fan);
    d.ws.send('{"type":"subscribe","all":true}');
    const code2 = await new Promise<number>((resolve) => d.ws.addEventListener("close", (e) => resolve(e.code)));
    expect(code2).toBe(1008);
    // ping is answered by the runtime.
    const e = await connect(fan);
    const pong = new Promise<string>((resolve) => e.ws.addEventListener("message", (m) => resolve(String(m.data))));
    e.ws.send("ping");
    expect(await pong).toBe("pong");
  });
});
