import { createHash, createHmac, randomUUID } from "node:crypto";
import { type AddressInfo, connect } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { Redis } from "ioredis";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRequest } from "#core/auth/origin-auth.ts";
import { FEED_VERSION_TTL_S, feedVersionKey, suggestKey } from "#core/keys.ts";
import { migrate } from "../../origin/db/migrate.ts";
import { writeApp } from "../../origin/src/writes/routes.ts";
import { tempDatabase } from "../../scripts/lib/world.ts";

const SECRET = "integration-origin-secret-0123456789";

/** Writes a raw HTTP/1.1 request and returns what came back before the socket closed. */
function rawHttp(port: number, head: string, body: Buffer, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let got = "";
    const done = () => {
      clearTimeout(t);
      s.destroy();
      resolve(got);
    };
    const t = setTimeout(done, ms);
    s.on("data", (d) => {
      got += String(d);
    });
    s.on("error", () => {});
    s.on("close", done);
    s.on("connect", () => s.write(Buffer.concat([Buffer.from(head), body])));
  });
}
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

describe("origin write API on real PostgreSQL and Redis", () => {
  let db: Awaited<ReturnType<typeof tempDatabase>>;
  let pool: pg.Pool;
  let redis: Redis;
  let app: Hono;
  const alice = randomUUID();
  const bob = randomUUID();

  /** Sends a request signed as the edge would sign it for `user`. */
  async function call(
    user: string,
    method: string,
    path: string,
    body?: unknown,
    tamper?: (h: Record<string, string>) => void,
  ) {
    const bytes = new TextEncoder().encode(body === undefined ? "" : JSON.stringify(body));
    const headers = await signRequest(SECRET, {
      method,
      pathWithQuery: `/v1${path}`,
      userId: user,
      timestampMs: Date.now(),
      requestId: randomUUID(),
      body: bytes,
    });
    tamper?.(headers);
    return app.request(`/v1${path}`, {
      method,
      headers: { ...headers, "content-type": "application/json" },
      body: bytes.length ? bytes : null,
    });
  }

  beforeAll(async () => {
    db = await tempDatabase("writes");
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
    const c = await pool.connect();
    await migrate(c);
    c.release();
    redis = new Redis(REDIS_URL);
    // Mounted at /v1 as the origin's HTTP server mounts it.
    app = new Hono().route("/v1", writeApp({ pg: pool, redis, sharedSecret: SECRET, log: pino({ level: "silent" }) }));
  });

  afterAll(async () => {
    await redis?.del(feedVersionKey(alice), feedVersionKey(bob), suggestKey(alice));
    redis?.disconnect();
    await pool?.end();
    await db?.drop();
  });

  it("refuses unsigned and forged requests, and replays", async () => {
    expect((await app.request("/v1/users/me", { method: "PUT", body: "{}" })).status).toBe(401);
    const forged = await call(alice, "PUT", "/users/me", { handle: "alice" }, (h) => {
      h["x-edge-user"] = bob; // claim to be someone else after signing
    });
    expect(forged.status).toBe(401);
    // Replay: the same signed request twice.
    const bytes = new TextEncoder().encode(JSON.stringify({ handle: "alice" }));
    const headers = await signRequest(SECRET, {
      method: "PUT",
      pathWithQuery: "/v1/users/me",
      userId: alice,
      timestampMs: Date.now(),
      requestId: randomUUID(),
      body: bytes,
    });
    const labelled = { ...headers, "content-type": "application/json" };
    const first = await app.request("/v1/users/me", { method: "PUT", headers: labelled, body: bytes });
    const again = await app.request("/v1/users/me", { method: "PUT", headers: labelled, body: bytes });
    expect(first.status).toBe(200);
    expect(again.status).toBe(409);
  });

  it("two different writes with the same request id both pass (the guard keys on the signature); an oversized or unsigned body is refused unread", async () => {
    const sameId = randomUUID();
    const signed = async (user: string, text: string) => {
      const bytes = new TextEncoder().encode(JSON.stringify({ text }));
      const headers = await signRequest(SECRET, {
        method: "POST",
        pathWithQuery: "/v1/posts",
        userId: user,
        timestampMs: Date.now(),
        requestId: sameId,
        body: bytes,
      });
      return app.request("/v1/posts", {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: bytes,
      });
    };
    await call(alice, "PUT", "/users/me", { handle: "alice_same" });
    await call(bob, "PUT", "/users/me", { handle: "bob_same" });
    expect((await signed(alice, "first of two")).status).toBe(201);
    expect((await signed(alice, "second of two")).status).toBe(201);
    expect((await signed(bob, "another user, same id")).status).toBe(201);
    // Refused before the body is read: 1 MiB (signed or not) is a 413, a small unsigned one a 401.
    const big = "x".repeat(1024 * 1024);
    expect((await app.request("/v1/posts", { method: "POST", body: big })).status).toBe(413);
    expect((await call(alice, "POST", "/posts", { text: big })).status).toBe(413);
    expect((await app.request("/v1/posts", { method: "POST", body: "{}" })).status).toBe(401);
  });

  it("a correctly signed request whose user id is not a UUID is a 400 in the envelope, not a 500", async () => {
    for (const [user, method, path, body] of [
      ["not-a-uuid", "PUT", "/users/me", { handle: `nu_${alice.slice(0, 8)}` }],
      ["12345", "POST", "/posts", { text: "hi" }],
      ["'; DROP TABLE users; --", "PUT", `/follows/${bob}`, undefined],
      [`${alice}x`, "DELETE", `/posts/${randomUUID()}`, undefined],
    ] as const) {
      const res = await call(user, method, path, body);
      expect(res.status, await res.clone().text()).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ error: { code: "bad_request", message: "signed user id must be a UUID" } });
    }
  });

  /**
   * The origin's write API on a real port, requests written byte for byte on a socket (no
   * client normalises the headers): each one's MAC is correct for the text a signer would
   * compute, but its signed headers are spelled otherwise than the edge spells them. Each is a
   * 401 and writes nothing.
   */
  it("a signed header in any spelling but the edge's is a 401 and writes no row, over real HTTP", async () => {
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 });
    await new Promise<void>((r) => (server.listening ? r() : server.once("listening", () => r())));
    const port = (server.address() as AddressInfo).port;
    const carol = `c${randomUUID().slice(1)}`; // a letter, so its upper case differs
    try {
      expect((await call(carol, "PUT", "/users/me", { handle: `ca_${carol.slice(0, 8)}` })).status).toBe(200);
      const posts = async () =>
        (await pool.query("SELECT count(*)::int AS n FROM posts WHERE author_id = $1", [carol])).rows[0].n as number;
      const hmac = (text: string) => createHmac("sha256", SECRET).update(text).digest("hex");
      const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
      /** POST /v1/posts with these header texts; `macOver` says which texts the MAC is computed over. */
      const post = async (
        sent: { ts: string; user: string; rid: string },
        macOver: { ts: string; user: string; rid: string },
      ) => {
        const body = Buffer.from(JSON.stringify({ text: `spelling ${randomUUID()}` }));
        const mac = hmac([macOver.ts, macOver.rid, "POST", "/v1/posts", macOver.user, sha(body)].join("\n"));
        const head =
          `POST /v1/posts HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
          `x-edge-user: ${sent.user}\r\nx-edge-timestamp: ${sent.ts}\r\n` +
          `x-edge-request-id: ${sent.rid}\r\nx-edge-signature: ${mac}\r\n\r\n`;
        const answer = await rawHttp(port, head, body);
        return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      };
      const ok = () => ({ ts: String(Date.now()), user: carol, rid: randomUUID() });
      // The edge's own spelling passes (the harness is sound).
      const good = ok();
      expect(await post(good, good)).toBe(201);
      expect(await posts()).toBe(1);
      const respell: Array<[string, (v: { ts: string; user: string; rid: string }) => Partial<typeof v>]> = [
        ["timestamp with .0", (v) => ({ ts: `${v.ts}.0` })],
        ["timestamp with a plus sign", (v) => ({ ts: `+${v.ts}` })],
        ["timestamp with a leading zero", (v) => ({ ts: `0${v.ts}` })],
        ["timestamp in exponent form", (v) => ({ ts: (Number(v.ts) / 1e12).toString().concat("e12") })],
        ["timestamp in hex", (v) => ({ ts: `0x${Number(v.ts).toString(16)}` })],
        ["timestamp with an inner space", (v) => ({ ts: `${v.ts.slice(0, 4)} ${v.ts.slice(4)}` })],
        ["user id in upper case", (v) => ({ user: v.user.toUpperCase() })],
        ["request id too short", () => ({ rid: "short" })],
        ["request id with a space", () => ({ rid: "req id with space" })],
      ];
      for (const [name, change] of respell) {
        const base = ok();
        const sent = { ...base, ...change(base) };
        // The edge's MAC (over its own spelling) with the header respelled after signing, and a
        // MAC over the respelled texts themselves: both refused.
        expect(await post(sent, base), `${name}: edge's MAC`).toBe(401);
        expect(await post(sent, sent), `${name}: MAC over the sent text`).toBe(401);
      }
      // Outer spaces are not part of a header value (HTTP strips them before the origin sees
      // it): with the MAC over the spaced text, the value the origin checks is another text.
      for (const change of [(v: { ts: string }) => ` ${v.ts}`, (v: { ts: string }) => `${v.ts}\t`]) {
        const base = ok();
        const sent = { ...base, ts: change(base) };
        expect(await post(sent, sent)).toBe(401);
      }
      expect(await posts()).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("a correctly signed upper-case user id is a 401, not another spelling of the same user", async () => {
    const dave = `d${randomUUID().slice(1)}`; // a letter, so its upper case differs
    const res = await call(dave.toUpperCase(), "PUT", "/users/me", { handle: `up_${dave.slice(0, 8)}` });
    expect(res.status, await res.clone().text()).toBe(401);
    const rows = await pool.query("SELECT count(*)::int AS n FROM users WHERE id = $1", [dave]);
    expect(rows.rows[0].n).toBe(0);
  });

  it("creates a profile, a post, follows idempotently and refuses a self-follow", async () => {
    expect((await call(bob, "PUT", "/users/me", { handle: "bob", bio: "hi" })).status).toBe(200);
    const post = await call(bob, "POST", "/posts", { text: "hello world" });
    expect(post.status).toBe(201);
    expect((await call(alice, "PUT", `/follows/${bob}`)).status).toBe(204);
    expect((await call(alice, "PUT", `/follows/${bob}`)).status).toBe(204);
    const rows = await pool.query(
      "SELECT count(*)::int AS n FROM follows WHERE follower_id = $1 AND deleted_at IS NULL",
      [alice],
    );
    expect(rows.rows[0].n).toBe(1);
    const self = await call(alice, "PUT", `/follows/${alice}`);
    expect(self.status).toBe(400);
    expect((await call(alice, "PUT", `/follows/${randomUUID()}`)).status).toBe(404);
  });

  it("validates bodies with a message naming the field", async () => {
    const res = await call(bob, "POST", "/posts", { text: "" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^text:/);
    expect((await call(bob, "PUT", "/users/me", { handle: "no spaces allowed" })).status).toBe(400);
  });

  it("a body that is not JSON is a 400, one not labelled JSON a 415, as at the edge", async () => {
    /** Signed as the edge signs `bytes`, sent with `contentType` (none: no Content-Type). */
    const raw = async (text: string, contentType?: string) => {
      const body = new TextEncoder().encode(text);
      const headers = await signRequest(SECRET, {
        method: "POST",
        pathWithQuery: "/v1/posts",
        userId: bob,
        timestampMs: Date.now(),
        requestId: randomUUID(),
        body,
      });
      return app.request("/v1/posts", {
        method: "POST",
        headers: contentType ? { ...headers, "content-type": contentType } : headers,
        body,
      });
    };
    const error = async (res: Response) => [res.status, ((await res.json()) as { error: unknown }).error];
    for (const text of ["{", ""]) {
      expect(await error(await raw(text, "application/json"))).toEqual([
        400,
        { code: "bad_request", message: "body must be JSON" },
      ]);
    }
    for (const type of [undefined, "text/plain"]) {
      expect(await error(await raw('{"text":"hi"}', type))).toEqual([
        415,
        { code: "unsupported_media_type", message: "body must be JSON (Content-Type: application/json)" },
      ]);
    }
    expect((await raw('{"text":"labelled"}', "application/json; charset=utf-8")).status).toBe(201);
  });

  it("a NUL character in user text is a 400 naming the field, not a database error, and nothing is stored", async () => {
    await call(alice, "PUT", "/users/me", { handle: "alice_nul" });
    for (const [path, body, field] of [
      ["/posts", { text: "before\u0000after" }, "text"],
      ["/users/me", { handle: "alice_nul", bio: "\u0000" }, "bio"],
    ] as const) {
      const res = await call(alice, path === "/posts" ? "POST" : "PUT", path, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(new RegExp(`${field}.*NUL`));
    }
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM posts WHERE author_id = $1 AND text LIKE 'before%'",
      [alice],
    );
    expect(rows[0].n).toBe(0);
  });

  it("a like invalidates the liker's feed (its version bumped, kept 24 h); a follow invalidates suggestions", async () => {
    const post = (await (await call(bob, "POST", "/posts", { text: "likeable" })).json()) as { post: { id: string } };
    const version = async () => Number((await redis.get(feedVersionKey(alice))) ?? 0);
    const before = await version();
    await redis.set(suggestKey(alice), "cached");
    expect((await call(alice, "PUT", `/posts/${post.post.id}/like`)).status).toBe(204);
    expect(await version()).toBe(before + 1);
    const ttl = await redis.ttl(feedVersionKey(alice));
    expect(ttl).toBeGreaterThan(FEED_VERSION_TTL_S - 60);
    expect(ttl).toBeLessThanOrEqual(FEED_VERSION_TTL_S);
    expect(await redis.exists(suggestKey(alice))).toBe(1);
    expect((await call(alice, "DELETE", `/follows/${bob}`)).status).toBe(204);
    expect(await redis.exists(suggestKey(alice))).toBe(0);
    expect(await version()).toBe(before + 2);
    // Unlike twice: idempotent.
    expect((await call(alice, "DELETE", `/posts/${post.post.id}/like`)).status).toBe(204);
    expect((await call(alice, "DELETE", `/posts/${post.post.id}/like`)).status).toBe(204);
  });

  it("only the author deletes a post or a comment", async () => {
    const post = (await (await call(bob, "POST", "/posts", { text: "mine" })).json()) as { post: { id: string } };
    const comment = (await (await call(alice, "POST", `/posts/${post.post.id}/comments`, { text: "nice" })).json()) as {
      comment: { id: string };
    };
    expect((await call(alice, "DELETE", `/posts/${post.post.id}`)).status).toBe(403);
    expect((await call(bob, "DELETE", `/comments/${comment.comment.id}`)).status).toBe(403);
    expect((await call(alice, "DELETE", `/comments/${comment.comment.id}`)).status).toBe(204);
    expect((await call(bob, "DELETE", `/posts/${post.post.id}`)).status).toBe(204);
    expect((await call(bob, "DELETE", `/posts/${post.post.id}`)).status).toBe(204);
  });
});
