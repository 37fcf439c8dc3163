/**
 * The live channel inside workerd: the worker's upgrade route (GET /api/v1/live) in front of the
 * real LiveChannel Durable Object (Hibernation API WebSockets, SQLite-backed storage), and the
 * origin's signed publish route (POST /internal/live/publish) into it. Redis (presence) is
 * unreachable here (port 9), which the object treats as best effort, so nothing else is needed.
 * Each test uses users of its own, so each talks to objects of its own.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { signRequest } from "#core/auth/origin-auth.ts";
import { FLUSH_INTERVAL_MS, ORIGIN_SIGNER, type PublishMessage } from "#core/live/protocol.ts";
import { token } from "./support.ts";

/** ORIGIN_SHARED_SECRET of the workers project (vitest.config.ts). */
const ORIGIN_SECRET = "workers-test-origin-secret-0123456789";

interface Message {
  type: string;
  id?: string;
  count?: number;
  newest_at?: string | null;
  unread?: number;
  resumed?: boolean;
}

let n = 0;
/** A user id of the test's own (so a Durable Object of its own). */
const newUser = () =>
  `33333333-3333-4333-8333-${String(++n).padStart(6, "0")}${String(Date.now() % 1e6).padStart(6, "0")}`;
let p = 0;
const newPostId = () => `44444444-4444-4444-8444-${String(++p).padStart(12, "0")}`;

function upgrade(headers: Record<string, string>, query = ""): Promise<Response> {
  return exports.default.fetch(`http://edge.test/api/v1/live${query}`, {
    headers: { upgrade: "websocket", ...headers },
  });
}

interface Client {
  ws: WebSocket;
  messages: Message[];
  /** Resolves with the first message from index `from` on that satisfies `check` (5 s at most). */
  next(check: (m: Message) => boolean, from?: number): Promise<Message>;
  lastId(): string | undefined;
}

/** Opens the channel as `user` (the token as a `bearer.` subprotocol, as a browser sends it). */
async function connect(user: string, query = ""): Promise<Client> {
  const res = await upgrade({ "sec-websocket-protocol": `feed-live.v1, bearer.${await token({ sub: user })}` }, query);
  if (res.status !== 101) throw new Error(`upgrade answered ${res.status}: ${await res.text()}`);
  expect(res.headers.get("sec-websocket-protocol")).toBe("feed-live.v1");
  const ws = res.webSocket as WebSocket;
  const messages: Message[] = [];
  const waiters = new Set<() => void>();
  ws.addEventListener("message", (e) => {
    messages.push(JSON.parse(String(e.data)) as Message);
    for (const w of waiters) w();
  });
  ws.accept();
  const client: Client = {
    ws,
    messages,
    lastId: () => messages.filter((m) => m.id).at(-1)?.id,
    next(check, from = 0) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const m = messages.slice(from).find(check);
          if (!m) return;
          waiters.delete(look);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(look);
          reject(new Error(`no matching message in 5 s; got ${JSON.stringify(messages)}`));
        }, 5000);
        waiters.add(look);
        look();
      });
    },
  };
  await client.next((m) => m.type === "hello");
  return client;
}

/** The origin's publish, signed as the origin signs it (origin/src/live/publisher.ts). */
async function publish(messages: PublishMessage[], secret = ORIGIN_SECRET): Promise<Response> {
  const body = new TextEncoder().encode(JSON.stringify({ messages }));
  const headers = await signRequest(secret, {
    method: "POST",
    pathWithQuery: "/internal/live/publish",
    userId: ORIGIN_SIGNER,
    timestampMs: Date.now(),
    requestId: `live-${crypto.randomUUID()}`,
    body,
  });
  return exports.default.fetch("http://edge.test/internal/live/publish", {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body,
  });
}

async function published(messages: PublishMessage[]): Promise<{ users: number; connected: number; failed: number }> {
  const res = await publish(messages);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { users: number; connected: number; failed: number };
}

const newPost = (user: string, at: number, post_id = newPostId()): PublishMessage => ({
  type: "new_post",
  user,
  post_id,
  at,
});
const unread = (user: string, count: number, at: number): PublishMessage => ({
  type: "unread",
  user,
  unread: count,
  at,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seq = (id: string | undefined) => Number((id ?? "").split(".")[1]);

describe("GET /api/v1/live: the upgrade", () => {
  it("401 without a token, with a bad one, and with another secret's, in the error envelope", async () => {
    const cases: Record<string, string>[] = [
      {},
      { "sec-websocket-protocol": "feed-live.v1" },
      { "sec-websocket-protocol": "feed-live.v1, bearer.not.a.jwt" },
      { authorization: `Bearer ${await token({ secret: "another-secret-another-secret-1234567" })}` },
    ];
    for (const headers of cases) {
      const res = await upgrade(headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.webSocket).toBeNull();
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
  });

  it("400 for subprotocols without feed-live.v1 and for a malformed last_event_id", async () => {
    const t = await token({ sub: newUser() });
    const noProto = await upgrade({ "sec-websocket-protocol": `chat, bearer.${t}` });
    expect(noProto.status).toBe(400);
    const badId = await upgrade({ authorization: `Bearer ${t}` }, "?last_event_id=nope");
    expect(badId.status).toBe(400);
    expect(((await badId.json()) as { error: { code: string } }).error.code).toBe("bad_request");
  });

  it("101 with a token, then hello and nothing else for a user the object never heard of", async () => {
    const c = await connect(newUser());
    await sleep(3 * FLUSH_INTERVAL_MS);
    expect(c.messages).toEqual([{ type: "hello", heartbeat_s: 30, resumed: false }]);
    c.ws.close(1000);
  });
});

describe("POST /internal/live/publish into the object", () => {
  it("refuses a publish not signed with the origin's secret (401) and changes nothing", async () => {
    const user = newUser();
    const c = await connect(user);
    const res = await publish([newPost(user, Date.now())], "not-the-origin-secret-0123456789abcdef");
    expect(res.status).toBe(401);
    await sleep(3 * FLUSH_INTERVAL_MS);
    expect(c.messages.map((m) => m.type)).toEqual(["hello"]);
    c.ws.close(1000);
  });

  it("coalesces: publishes inside one flush interval go out as one message with the current count and newest time", async () => {
    const user = newUser();
    const c = await connect(user);
    const t = Date.now() - 10_000;
    // The first change goes out at once (no flush yet)...
    expect(await published([newPost(user, t)])).toEqual({ users: 1, connected: 1, failed: 0 });
    const first = await c.next((m) => m.type === "new_posts");
    expect(first).toMatchObject({ count: 1, newest_at: new Date(t).toISOString() });
    // ...the next two, published right after it (inside FLUSH_INTERVAL_MS), as one message:
    // the count of both and the newer one's time, not two messages.
    const from = c.messages.length;
    const started = Date.now();
    await Promise.all([published([newPost(user, t + 1000)]), published([newPost(user, t + 2000)])]);
    const took = Date.now() - started;
    console.log(`coalescing: two publishes took ${took} ms (interval ${FLUSH_INTERVAL_MS} ms)`);
    const second = await c.next((m) => m.type === "new_posts", from);
    await sleep(3 * FLUSH_INTERVAL_MS);
    const after = c.messages.slice(from).filter((m) => m.type === "new_posts");
    // (Two publishes that took longer than the interval could rightly be two sends.)
    if (took < FLUSH_INTERVAL_MS) expect(after, JSON.stringify(c.messages)).toHaveLength(1);
    expect(after.at(-1)).toMatchObject({ count: 3, newest_at: new Date(t + 2000).toISOString() });
    expect(second.count).toBeGreaterThan(1);
    expect(seq(after.at(-1)?.id)).toBeGreaterThan(seq(first.id));
    c.ws.close(1000);
  });

  it("counts a post once however often it is published, and ignores an older unread count", async () => {
    const user = newUser();
    const c = await connect(user);
    const t = Date.now() - 10_000;
    const post = newPost(user, t);
    await published([post, unread(user, 4, t)]);
    await c.next((m) => m.type === "notifications" && m.unread === 4);
    await c.next((m) => m.type === "new_posts" && m.count === 1);
    const from = c.messages.length;
    // A replay of the same post and an older unread count change nothing: no message at all.
    await published([post, unread(user, 1, t - 1000)]);
    await sleep(3 * FLUSH_INTERVAL_MS);
    expect(c.messages.slice(from)).toEqual([]);
    // A newer count replaces it.
    await published([unread(user, 2, t + 1000)]);
    await c.next((m) => m.type === "notifications" && m.unread === 2, from);
    c.ws.close(1000);
  });

  it("a user without a connection or state: the publish is accepted and nobody is connected", async () => {
    expect(await published([newPost(newUser(), Date.now())])).toEqual({ users: 1, connected: 0, failed: 0 });
  });
});

describe("resume", () => {
  it("with last_event_id replays only the types that changed after it, each once, as the current value", async () => {
    const user = newUser();
    const a = await connect(user);
    const t = Date.now() - 10_000;
    await published([unread(user, 1, t)]);
    await a.next((m) => m.type === "notifications" && m.unread === 1);
    await published([newPost(user, t)]);
    await a.next((m) => m.type === "new_posts" && m.count === 1);
    const last = a.lastId() as string;
    // Away (the last connection closed: the object keeps its state RESUME_GRACE_MS).
    a.ws.close(1000);
    await sleep(FLUSH_INTERVAL_MS);
    // While away: two more posts; the unread count is published again unchanged.
    await published([newPost(user, t + 1000), newPost(user, t + 2000), unread(user, 1, t + 2000)]);
    const b = await connect(user, `?last_event_id=${last}`);
    expect(b.messages[0]).toEqual({ type: "hello", heartbeat_s: 30, resumed: true });
    const posts = await b.next((m) => m.type === "new_posts");
    expect(posts).toMatchObject({ count: 3, newest_at: new Date(t + 2000).toISOString() });
    await sleep(3 * FLUSH_INTERVAL_MS);
    // Only new_posts changed after `last`: notifications is not replayed, nothing comes twice.
    expect(b.messages.map((m) => m.type)).toEqual(["hello", "new_posts"]);
    expect(seq(posts.id)).toBeGreaterThan(seq(last));
    // Resuming from the newest id: nothing to replay.
    const c = await connect(user, `?last_event_id=${b.lastId()}`);
    await sleep(3 * FLUSH_INTERVAL_MS);
    expect(c.messages).toEqual([{ type: "hello", heartbeat_s: 30, resumed: true }]);
    // A new connection (no id) gets every value ever set, oldest change first.
    const d = await connect(user);
    await d.next((m) => m.type === "new_posts");
    expect(d.messages.map((m) => [m.type, m.count ?? m.unread])).toEqual([
      ["hello", undefined],
      ["notifications", 1],
      ["new_posts", 3],
    ]);
    for (const x of [b, c, d]) x.ws.close(1000);
  });

  it("an id the object never sent (another epoch, or a sequence it never reached) gets resync, then every current value", async () => {
    const user = newUser();
    const a = await connect(user);
    const t = Date.now() - 10_000;
    await published([unread(user, 3, t)]);
    await a.next((m) => m.type === "notifications");
    await published([newPost(user, t)]);
    await a.next((m) => m.type === "new_posts");
    const epoch = (a.lastId() as string).split(".")[0] as string;
    for (const unknown of ["00000000.1", `${epoch}.999`]) {
      const b = await connect(user, `?last_event_id=${unknown}`);
      await b.next((m) => m.type === "new_posts");
      expect(
        b.messages.map((m) => m.type),
        unknown,
      ).toEqual(["hello", "resync", "notifications", "new_posts"]);
      expect(b.messages[0]?.resumed).toBe(false);
      expect(b.messages[1]?.id).toBe(`${epoch}.0`);
      expect(b.messages[2]?.unread).toBe(3);
      b.ws.close(1000);
    }
    a.ws.close(1000);
  });
});

describe("client messages", () => {
  it("new_posts_seen drops the posts up to it, on every connection of the user", async () => {
    const user = newUser();
    const a = await connect(user);
    const b = await connect(user);
    const t = Date.now() - 10_000;
    await published([newPost(user, t), newPost(user, t + 1000)]);
    const m = await a.next((x) => x.type === "new_posts" && x.count === 2);
    await b.next((x) => x.type === "new_posts" && x.count === 2);
    a.ws.send(JSON.stringify({ type: "new_posts_seen", until: m.newest_at }));
    await a.next((x) => x.type === "new_posts" && x.count === 0);
    await b.next((x) => x.type === "new_posts" && x.count === 0);
    a.ws.close(1000);
    b.ws.close(1000);
  });

  it("closes a connection that sends something not in the protocol (1008)", async () => {
    const c = await connect(newUser());
    const closed = new Promise<number>((resolve) => c.ws.addEventListener("close", (e) => resolve(e.code)));
    c.ws.send('{"type":"subscribe"}');
    expect(await closed).toBe(1008);
  });
});
