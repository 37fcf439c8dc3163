/**
 * Conformance of the Redis REST bridge with what @upstash/redis expects: every case drives the
 * bridge through the real client and checks the result against the same data read straight from
 * Redis over TCP. Protocol-level statuses (400/401/404/413) are checked with raw fetch.
 */

import { randomBytes } from "node:crypto";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { aclUserName } from "./acl.ts";
import { type BridgeUnderTest, keySpace, startBridgeUnderTest } from "./in-process.ts";

const SMALL_BODY_LIMIT = 64 * 1024;

let t: BridgeUnderTest;
/** Defaults: auto-pipelining on, base64 responses, automatic JSON deserialization. */
let client: Redis;
/** Same transport, but results as Redis sent them (no JSON parsing), for exact comparisons. */
let raw: Redis;
let ks: ReturnType<typeof keySpace>;
let k: (suffix: string) => string;

beforeAll(async () => {
  t = await startBridgeUnderTest({
    REDIS_BRIDGE_MAX_BODY_BYTES: String(SMALL_BODY_LIMIT),
    REDIS_BRIDGE_COMMAND_TIMEOUT_MS: "3000",
    REDIS_BRIDGE_POOL_SIZE: "4",
  });
  client = new Redis({ url: t.url, token: t.token });
  raw = new Redis({ url: t.url, token: t.token, automaticDeserialization: false });
});

afterAll(async () => {
  await t?.close();
});

let testNo = 0;
beforeEach(() => {
  ks = keySpace(t.direct, `case${++testNo}`);
  k = ks.key;
});
afterEach(async () => {
  await ks.cleanup();
});

/** POST to the bridge without the client, for status-code checks. */
async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

describe("strings", () => {
  it("round-trips unicode values byte for byte", async () => {
    const value = "héllo — 世界 🚀 'q' \"dq\" \\ \n\t\u0000 end";
    expect(await client.set(k("u"), value)).toBe("OK");
    expect(await t.direct.get(k("u"))).toBe(value);
    expect((await t.direct.getBuffer(k("u")))?.equals(Buffer.from(value))).toBe(true);
    expect(await raw.get(k("u"))).toBe(value);
    expect(await client.get(k("u"))).toBe(value);
  });

  it("returns binary values exactly as base64 and as the client decodes them", async () => {
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0xc3, 0x28, 0x0a, 0xf0, 0x9f, 0x9a, 0x80]);
    await t.direct.set(k("bin"), bytes);
    const res = await post("/", ["GET", k("bin")], { "upstash-encoding": "base64" });
    expect(res).toEqual({ status: 200, body: { result: bytes.toString("base64") } });
    expect(await raw.get(k("bin"))).toBe(new TextDecoder().decode(bytes));
  });

  it("answers UTF-8 text when the client asks for no encoding", async () => {
    const plain = new Redis({ url: t.url, token: t.token, responseEncoding: false, automaticDeserialization: false });
    await t.direct.set(k("p"), "plain ✓ text");
    expect(await plain.get(k("p"))).toBe("plain ✓ text");
    expect(await plain.set(k("q"), "x")).toBe("OK");
    const res = await post("/", ["GET", k("p")]);
    expect(res.body).toEqual({ result: "plain ✓ text" });
  });

  it("passes JSON numbers and booleans as strings", async () => {
    await client.mset({ [k("n")]: 12.5, [k("b")]: true });
    expect(await t.direct.mget(k("n"), k("b"))).toEqual(["12.5", "true"]);
    expect(await client.get(k("n"))).toBe(12.5); // the client's own JSON deserialization
  });
});

describe("integers", () => {
  it("INCR and INCRBY return Redis's integers", async () => {
    expect(await client.incr(k("c"))).toBe(1);
    expect(await client.incrby(k("c"), 41)).toBe(42);
    expect(await client.decrby(k("c"), 2)).toBe(40);
    expect(await t.direct.get(k("c"))).toBe("40");
  });
});

describe("hashes, lists, sets", () => {
  it("hashes", async () => {
    expect(await client.hset(k("h"), { name: "ada", city: "Zürich", n: 3 })).toBe(3);
    expect(await raw.hget(k("h"), "city")).toBe(await t.direct.hget(k("h"), "city"));
    expect(await client.hgetall(k("h"))).toEqual({ name: "ada", city: "Zürich", n: 3 });
    expect(await raw.hgetall(k("h"))).toEqual(await t.direct.call("HGETALL", k("h")));
    expect(await client.hincrby(k("h"), "n", 2)).toBe(5);
  });

  it("lists", async () => {
    expect(await client.rpush(k("l"), "a", "b", "c")).toBe(3);
    expect(await client.lpush(k("l"), "z")).toBe(4);
    expect(await raw.lrange(k("l"), 0, -1)).toEqual(await t.direct.lrange(k("l"), 0, -1));
    expect(await client.lpop(k("l"))).toBe("z");
    expect(await client.llen(k("l"))).toBe(await t.direct.llen(k("l")));
  });

  it("sets", async () => {
    expect(await client.sadd(k("s"), "x", "y", "ß")).toBe(3);
    expect(((await raw.smembers(k("s"))) as string[]).sort()).toEqual((await t.direct.smembers(k("s"))).sort());
    expect(await client.sismember(k("s"), "ß")).toBe(1);
    expect(await client.scard(k("s"))).toBe(3);
  });
});

describe("sorted sets", () => {
  it("ZADD, ZRANGE WITHSCORES and ZSCORE keep the scores", async () => {
    expect(
      await client.zadd(k("z"), { score: 1.5, member: "a" }, { score: -3, member: "b" }, { score: 2, member: "c" }),
    ).toBe(3);
    expect(await raw.zrange(k("z"), 0, -1, { withScores: true })).toEqual(
      await t.direct.zrange(k("z"), 0, -1, "WITHSCORES"),
    );
    expect(await client.zrange(k("z"), 0, -1, { withScores: true })).toEqual(["b", -3, "a", 1.5, "c", 2]);
    expect(await client.zscore(k("z"), "a")).toBe(1.5);
    expect(await client.zincrby(k("z"), 0.25, "a")).toBe(1.75);
    expect(await t.direct.zscore(k("z"), "a")).toBe("1.75");
  });
});

describe("streams", () => {
  it("XADD, XREADGROUP, XPENDING, XACK, XAUTOCLAIM, XTRIM, XLEN match Redis", async () => {
    const s = k("stream");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await client.xadd(s, "*", { n: String(i), text: `é${i}` }));
    expect(await client.xlen(s)).toBe(5);
    expect(await raw.xrange(s, "-", "+")).toEqual(await t.direct.xrange(s, "-", "+"));
    expect(await client.xrange(s, "-", "+", 1)).toEqual({ [ids[0] as string]: { n: 0, text: "é0" } });
    await client.xgroup(s, { type: "CREATE", group: "g", id: "0" });
    const read = await raw.xreadgroup("g", "c1", s, ">", { count: 3 });
    expect(read).toEqual([[s, (await t.direct.xrange(s, "-", "+", "COUNT", 3)) as unknown[]]]);
    const pending = await raw.xpending(s, "g", "-", "+", 10);
    expect(pending).toHaveLength(3);
    expect((pending as unknown[][]).map((p) => p[0])).toEqual(ids.slice(0, 3));
    expect(await client.xack(s, "g", [ids[0] as string])).toBe(1);
    const claimed = (await raw.xautoclaim(s, "g", "c2", 0, "0-0", { count: 10 })) as unknown[];
    expect(claimed[0]).toBe("0-0");
    expect((claimed[1] as unknown[][]).map((e) => e[0])).toEqual(ids.slice(1, 3));
    expect(await t.direct.call("XPENDING", s, "g")).toEqual([2, ids[1], ids[2], [["c2", "2"]]]);
    expect(await client.xtrim(s, { strategy: "MAXLEN", exactness: "=", threshold: 2 })).toBe(3);
    expect(await client.xlen(s)).toBe(await t.direct.xlen(s));
  });
});

describe("scripts", () => {
  it("EVAL and EVALSHA, including EVALSHA falling back to EVAL on NOSCRIPT", async () => {
    const script = `return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[2]), ${Date.now()}}`;
    const first = (await raw.eval(script, [k("e")], ["hi", "5"])) as unknown[];
    expect(first.slice(0, 3)).toEqual([k("e"), "hi", 5]);
    const sha = await client.scriptLoad(script);
    expect(sha).toBe(await t.direct.script("LOAD", script));
    expect(((await raw.evalsha(sha, [k("e")], ["hi", "1"])) as unknown[])[2]).toBe(6);

    await expect(client.evalsha("0".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
    // createScript tries EVALSHA first; a never-loaded script must come back through EVAL.
    const fresh = `return redis.call('INCR', KEYS[1]) + ${Date.now() % 1000} * 0`;
    const s = client.createScript<number>(fresh);
    expect(await s.exec([k("f")], [])).toBe(1);
    expect(await s.exec([k("f")], [])).toBe(2);
    expect(await t.direct.get(k("f"))).toBe("2");
  });
});

describe("expiry", () => {
  it("EXPIRE, TTL, PTTL and SET PX match Redis's view", async () => {
    await client.set(k("px"), "v", { px: 60_000 });
    const pttl = await client.pttl(k("px"));
    expect(pttl).toBeGreaterThan(55_000);
    expect(Math.abs(pttl - (await t.direct.pttl(k("px"))))).toBeLessThan(1000);
    await client.set(k("ex"), "v");
    expect(await client.ttl(k("ex"))).toBe(-1);
    expect(await client.expire(k("ex"), 100)).toBe(1);
    expect(await client.ttl(k("ex"))).toBe(await t.direct.ttl(k("ex")));
    expect(await client.ttl(k("missing"))).toBe(-2);
  });
});

describe("pipelines", () => {
  it("a failing command in the middle is reported; the others still run", async () => {
    await t.direct.hset(k("hash"), "f", "1");
    const p = client.pipeline();
    p.set(k("a"), "1");
    p.incr(k("hash")); // WRONGTYPE
    p.incr(k("a"));
    p.get(k("a"));
    const results = await p.exec({ keepErrors: true });
    expect(results[0]).toEqual({ result: "OK", error: undefined });
    expect(results[1]?.error).toMatch(/^WRONGTYPE/);
    expect(results[2]).toEqual({ result: 2, error: undefined });
    expect(results[3]).toEqual({ result: 2, error: undefined });
    expect(await t.direct.get(k("a"))).toBe("2");
    await expect(client.pipeline().set(k("b"), 1).incr(k("hash")).exec()).rejects.toThrow(
      /Command 2 \[ incr \] failed: WRONGTYPE/,
    );
  });

  it("auto-pipelining batches concurrent calls into one request and keeps per-call errors", async () => {
    await t.direct.hset(k("hash"), "f", "1");
    const before = (client as unknown as { pipelineCounter: number }).pipelineCounter;
    const [a, b, c] = await Promise.allSettled([client.set(k("x"), "1"), client.get(k("hash")), client.incr(k("x"))]);
    expect(a).toEqual({ status: "fulfilled", value: "OK" });
    expect(b.status).toBe("rejected");
    expect(String((b as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    expect(c).toEqual({ status: "fulfilled", value: 2 });
    expect((client as unknown as { pipelineCounter: number }).pipelineCounter - before).toBeLessThanOrEqual(2);
  });
});

describe("transactions (/multi-exec)", () => {
  it("runs MULTI/EXEC and returns each command's result", async () => {
    const res = await client.multi().set(k("t"), "5").incr(k("t")).get(k("t")).exec();
    expect(res).toEqual(["OK", 6, 6]);
    expect(await t.direct.get(k("t"))).toBe("6");
  });

  it("reports a runtime error inside the transaction per command; the rest still ran", async () => {
    await t.direct.set(k("str"), "abc");
    const res = await client.multi().incr(k("str")).set(k("after"), "yes").exec({ keepErrors: true });
    expect(res[0]?.error).toMatch(/ERR value is not an integer/);
    expect(res[1]).toEqual({ result: "OK", error: undefined });
    expect(await t.direct.get(k("after"))).toBe("yes");
  });

  it("EXECABORT (a command Redis refused to queue) runs nothing and surfaces as an error", async () => {
    const res = await post("/multi-exec", [
      ["SET", k("never"), "1"],
      ["SET", k("x")],
      ["INCR", k("y")],
    ]);
    expect(res.status).toBe(400);
    expect((res.body as { error: string }).error).toMatch(/^EXECABORT .*command 2: ERR wrong number of arguments/);
    await expect(client.multi().set(k("never"), 1).flushall().exec()).rejects.toThrow(/EXECABORT.*disabled/);
    expect(await t.direct.exists(k("never"))).toBe(0);
  });
});

describe("errors", () => {
  it("WRONGTYPE and unknown commands come back as Redis wrote them", async () => {
    await t.direct.rpush(k("list"), "a");
    const direct = await t.direct.get(k("list")).catch((e: Error) => e.message);
    await expect(client.get(k("list"))).rejects.toThrow(direct as string);
    await expect(client.exec(["NOSUCHCOMMAND", "x"])).rejects.toThrow(/ERR unknown command 'NOSUCHCOMMAND'/);
    const res = await post("/", ["NOSUCHCOMMAND"]);
    expect(res.status).toBe(400);
    expect((res.body as { error: string }).error).toMatch(/^ERR unknown command/);
  });

  it("a bad token is a 401 the client reports", async () => {
    const wrong = new Redis({ url: t.url, token: "wrong-token" });
    await expect(wrong.get(k("x"))).rejects.toThrow(/Unauthorized/);
    const res = await fetch(`${t.url}/`, { method: "POST", body: '["PING"]' });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "Unauthorized" });
  });

  it("denied commands get the documented error, per command in a pipeline", async () => {
    await expect(client.flushall()).rejects.toThrow("ERR command 'flushall' is disabled on this bridge");
    const res = await post("/pipeline", [
      ["SET", k("ok"), "1"],
      ["CONFIG", "SET", "maxmemory", "1"],
      ["SUBSCRIBE", "c"],
    ]);
    expect(res).toEqual({
      status: 200,
      body: [
        { result: "OK" },
        { error: "ERR command 'config' is disabled on this bridge" },
        {
          error:
            "ERR command 'subscribe' is disabled on this bridge in a command body; use the server-sent-events form POST /subscribe/<channel>",
        },
      ],
    });
  });

  it("protocol errors: oversize body 413, bad JSON 400, wrong shape 400, unknown command 400, other methods 405 — all JSON", async () => {
    const big = await post("/", ["SET", k("big"), "x".repeat(SMALL_BODY_LIMIT)]);
    expect(big.status).toBe(413);
    expect((big.body as { error: string }).error).toMatch(/larger than/);
    await expect(client.set(k("big"), "x".repeat(SMALL_BODY_LIMIT))).rejects.toThrow(/larger than/);
    expect((await post("/", '["GET"')).status).toBe(400);
    expect((await post("/pipeline", ["GET", "x"])).status).toBe(400);
    expect((await post("/", ["SET", k("o"), { a: 1 }])).status).toBe(400);
    // PUT is POST on Upstash: an unknown path is an unknown command, as Redis says.
    const unknown = await fetch(`${t.url}/nope`, { method: "PUT", headers: { authorization: `Bearer ${t.token}` } });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/^ERR unknown command 'NOPE'/);
    const notAllowed = await fetch(`${t.url}/nope`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(notAllowed.status).toBe(405);
    expect(await notAllowed.json()).toHaveProperty("error");
  });
});

describe("blocking commands", () => {
  it("run on a dedicated connection without holding up other requests", async () => {
    const t0 = Date.now();
    const blocked = raw.exec(["BLPOP", k("q"), "2"]);
    await new Promise((r) => setTimeout(r, 100));
    expect(await raw.exec(["PING"])).toBe("PONG");
    expect(Date.now() - t0).toBeLessThan(1000);
    await t.direct.rpush(k("q"), "job");
    expect(await blocked).toEqual([k("q"), "job"]);
  });

  it("a block-forever timeout is capped by the command timeout", async () => {
    const t0 = Date.now();
    expect(await raw.exec(["BLPOP", k("empty"), "0"])).toBeNull();
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(2900);
    expect(ms).toBeLessThan(5000);
  }, 10_000);
});

describe("@upstash/ratelimit against the bridge", () => {
  it("sliding window: N allowed, then blocked", async () => {
    const limiter = new Ratelimit({ redis: client, limiter: Ratelimit.slidingWindow(5, "30 s"), prefix: k("rl") });
    const outcomes: boolean[] = [];
    for (let i = 0; i < 7; i++) outcomes.push((await limiter.limit("user-1")).success);
    expect(outcomes).toEqual([true, true, true, true, true, false, false]);
    expect((await limiter.limit("user-2")).success).toBe(true);
  });

  it("fixed window: N allowed, then blocked, remaining counts down", async () => {
    const limiter = new Ratelimit({ redis: client, limiter: Ratelimit.fixedWindow(3, "30 s"), prefix: k("fw") });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.limit("u"));
    expect(results.map((r) => r.success)).toEqual([true, true, true, false]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0]);
  });
});

describe("health and path form", () => {
  it("/healthz answers without a token and reports Redis", async () => {
    const res = await fetch(`${t.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", component: "redis-bridge", redis: { ok: true } });
  });

  it("accepts the Upstash path form", async () => {
    const auth = { authorization: `Bearer ${t.token}` };
    const key = encodeURIComponent(k("pf"));
    expect(await (await fetch(`${t.url}/set/${key}/v%201`, { method: "POST", headers: auth })).json()).toEqual({
      result: "OK",
    });
    expect(await (await fetch(`${t.url}/get/${key}`, { headers: auth })).json()).toEqual({ result: "v 1" });
    expect(await t.direct.get(k("pf"))).toBe("v 1");
  });
});

describe("lifecycle and failure modes", () => {
  it("answers 503 JSON while Redis is unreachable; /healthz says so, /readyz is 503", async () => {
    const down = await startBridgeUnderTest({
      REDIS_URL: "redis://127.0.0.1:1",
      REDIS_BRIDGE_COMMAND_TIMEOUT_MS: "500",
    });
    try {
      const c = new Redis({ url: down.url, token: down.token });
      await expect(c.get("k")).rejects.toThrow(/Redis is unavailable/);
      const res = await fetch(`${down.url}/`, {
        method: "POST",
        headers: { authorization: `Bearer ${down.token}` },
        body: '["GET","k"]',
      });
      expect(res.status).toBe(503);
      expect(await res.json()).toHaveProperty("error");
      const health = await fetch(`${down.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: "degraded", redis: { ok: false } });
      expect((await fetch(`${down.url}/readyz`)).status).toBe(503);
    } finally {
      await down.close();
    }
  });

  it("stop() lets an in-flight request finish, then refuses new ones", async () => {
    const own = await startBridgeUnderTest();
    const c = new Redis({ url: own.url, token: own.token, automaticDeserialization: false, retry: false });
    const key = k("drain");
    const inFlight = c.exec(["BLPOP", key, "1"]);
    await new Promise((r) => setTimeout(r, 150));
    const stopped = own.close();
    expect(await inFlight).toBeNull();
    await stopped;
    await expect(fetch(`${own.url}/healthz`)).rejects.toThrow();
  });
});

describe("the bridge's Redis ACL user: scripts cannot run denied commands", () => {
  const USER = "edge-feed-bridge";
  /** Redis's answer when a script calls a command its user may not run. */
  const SCRIPT_REFUSED = /ERR The user executing the script can't run this command or subcommand/;
  /** …or, for commands Redis never lets a script run (CONFIG, ACL, CLIENT), whoever the user is. */
  const SCRIPT_REFUSED_OR_NOSCRIPT =
    /ERR (The user executing the script can't run this command or subcommand|This Redis command is not allowed from script)/;

  /** The Redis user the bridge's shared connection is authenticated as (CLIENT INFO stays allowed). */
  async function bridgeUser(url = t.url, token = t.token): Promise<string> {
    const res = await fetch(`${url}/`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify(["CLIENT", "INFO"]),
    });
    const body = (await res.json()) as { result?: string; error?: string };
    return /\buser=(\S+)/.exec(body.result ?? body.error ?? "")?.[1] ?? "(unknown)";
  }

  /** What Redis would answer `user` for `cmd` without running it ("OK" when allowed). */
  async function dryRun(user: string, ...cmd: string[]): Promise<string> {
    return String(await t.direct.call("ACL", "DRYRUN", user, ...cmd));
  }

  /**
   * Before any destructive attack is sent: the bridge must be the restricted user and Redis must
   * refuse it the command, so a regression fails here instead of flushing the machine's Redis.
   */
  async function assertRestricted(...cmd: string[]): Promise<void> {
    expect(await bridgeUser()).toBe(USER);
    expect(await dryRun(USER, ...cmd)).toMatch(/no permissions to run/);
  }

  it("the bridge runs as a restricted user Redis refuses dangerous commands; re-provisioning is idempotent and leaves `default` alone", async () => {
    expect(await bridgeUser()).toBe(USER);
    const denied = [
      ["flushall"],
      ["flushdb"],
      ["swapdb", "0", "1"],
      ["keys", "*"],
      ["info"],
      ["slowlog", "get"],
      ["config", "get", "*"],
      ["debug", "sleep", "0"],
      ["shutdown"],
      ["acl", "list"],
      ["monitor"],
      ["client", "kill", "id", "1"],
      ["client", "list"],
      ["script", "flush"],
      ["function", "flush"],
    ];
    for (const cmd of denied)
      expect({ cmd, answer: await dryRun(USER, ...cmd) }).toMatchObject({
        cmd,
        answer: expect.stringMatching(/no permissions to run/),
      });
    const kept = [
      ["eval", "return 1", "0"],
      ["evalsha", "0".repeat(40), "0"],
      ["eval_ro", "return 1", "0"],
      ["evalsha_ro", "0".repeat(40), "0"],
      ["script", "load", "return 1"],
      ["script", "exists", "0".repeat(40)],
      ["multi"],
      ["exec"],
      ["xadd", "s", "*", "f", "v"],
      ["xreadgroup", "group", "g", "c", "streams", "s", ">"],
      ["zadd", "z", "1", "m"],
      ["hgetall", "h"],
      ["lrange", "l", "0", "-1"],
      ["set", "k", "v"],
      ["scan", "0"],
      ["time"],
    ];
    for (const cmd of kept) expect({ cmd, answer: await dryRun(USER, ...cmd) }).toEqual({ cmd, answer: "OK" });

    // Redis prints a user's rules in no fixed order: compare each user's set of rules.
    const aclList = async () =>
      ((await t.direct.call("ACL", "LIST")) as string[]).map((l) => l.split(" ").sort().join(" ")).sort();
    const before = await aclList();
    const again = await startBridgeUnderTest();
    try {
      expect(await bridgeUser(again.url, again.token)).toBe(USER);
    } finally {
      await again.close();
    }
    const after = await aclList();
    expect(after).toEqual(before);
    const isDefault = (l: string) => l.split(" ").includes("default");
    expect(after.filter(isDefault)).toEqual(before.filter(isDefault));
    expect(before.filter(isDefault)).toHaveLength(1);
  });

  it("EVAL, EVALSHA, pcall and pipelined scripts cannot reach FLUSHALL, FLUSHDB or SWAPDB; the data survives", async () => {
    for (const cmd of [["flushall"], ["flushdb"], ["swapdb", "0", "1"]]) await assertRestricted(...cmd);
    await t.direct.set(k("sentinel"), "still here");
    for (const script of [
      "return redis.call('flushall')",
      "return redis.call('FLUSHDB')",
      "return redis.call('swapdb', 0, 1)",
      "return redis.pcall('flushall')",
    ]) {
      const res = await post("/", ["EVAL", script, "0"]);
      expect(res.status).toBe(400);
      expect((res.body as { error: string }).error).toMatch(SCRIPT_REFUSED);
    }
    await expect(client.eval("return redis.call('flushall')", [], [])).rejects.toThrow(SCRIPT_REFUSED);
    const sha = await client.scriptLoad("return redis.call('flushdb')");
    await expect(client.evalsha(sha, [], [])).rejects.toThrow(SCRIPT_REFUSED);
    const piped = await post("/pipeline", [
      ["SET", k("p"), "1"],
      ["EVAL", "return redis.call('flushall')", "0"],
      ["GET", k("p")],
    ]);
    expect(piped.status).toBe(200);
    const entries = piped.body as Array<{ result?: unknown; error?: string }>;
    expect(entries[0]).toEqual({ result: "OK" });
    expect(entries[1]?.error).toMatch(SCRIPT_REFUSED);
    expect(entries[2]).toEqual({ result: "1" });
    expect(await t.direct.get(k("sentinel"))).toBe("still here");
  });

  it("KEYS, INFO and SLOWLOG GET are refused: by the bridge when named, by Redis when a script calls them", async () => {
    const direct = await post("/pipeline", [["KEYS", "*"], ["INFO"], ["SLOWLOG", "GET"], ["CONFIG", "GET", "*"]]);
    expect(direct.body).toEqual([
      { error: "ERR command 'keys' is disabled on this bridge" },
      { error: "ERR command 'info' is disabled on this bridge" },
      { error: "ERR command 'slowlog' is disabled on this bridge" },
      { error: "ERR command 'config' is disabled on this bridge" },
    ]);
    for (const call of [
      "'keys', '*'",
      "'info'",
      "'slowlog', 'get'",
      "'config', 'get', '*'",
      "'acl', 'list'",
      "'client', 'list'",
    ]) {
      const res = await post("/", ["EVAL", `return redis.call(${call})`, "0"]);
      expect({ call, status: res.status }).toEqual({ call, status: 400 });
      const error = (res.body as { error: string }).error;
      expect(error).toMatch(SCRIPT_REFUSED_OR_NOSCRIPT);
      // KEYS, INFO and SLOWLOG are script-callable commands: the ACL user is what stops them
      // (CONFIG, ACL and CLIENT are never callable from scripts in Redis 7.0).
      if (!/'(acl|client|config)'/.test(call)) expect(error).toMatch(SCRIPT_REFUSED);
    }
  });

  it("what the product uses still works as that user: writing scripts, EVAL_RO, SCRIPT LOAD + EVALSHA, multi-exec, streams", async () => {
    const script = `redis.call('HSET', KEYS[1], 'n', ARGV[1]); redis.call('XADD', KEYS[2], '*', 'n', ARGV[1]);
      redis.call('ZADD', KEYS[3], ARGV[1], 'm'); redis.call('RPUSH', KEYS[4], ARGV[1]); redis.call('EXPIRE', KEYS[1], 60);
      return redis.call('HGET', KEYS[1], 'n')`;
    const keys = [k("h"), k("s"), k("z"), k("l")];
    expect(await client.eval(script, keys, ["7"])).toBe(7);
    const sha = await client.scriptLoad(script);
    expect(await client.evalsha(sha, keys, ["8"])).toBe(8);
    const ro = await post("/", ["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", k("ro")]);
    expect(ro).toEqual({ status: 200, body: { result: null } });
    const res = await client
      .multi()
      .xadd(k("s"), "*", { n: "9" })
      .zadd(k("z"), { score: 9, member: "m9" })
      .hgetall(k("h"))
      .lrange(k("l"), 0, -1)
      .exec();
    expect(res.slice(1)).toEqual([1, { n: 8 }, [7, 8]]);
    expect(await t.direct.xlen(k("s"))).toBe(3);
  });

  it("a Redis that lost the user (ACL DELUSER, as after a restart) gets it back: the bridge re-creates it", async () => {
    const user = `edge-feed-bridge-test-${randomBytes(3).toString("hex")}`;
    const own = await startBridgeUnderTest({ REDIS_BRIDGE_ACL_USER: user, REDIS_BRIDGE_COMMAND_TIMEOUT_MS: "1000" });
    try {
      const c = new Redis({ url: own.url, token: own.token, retry: false });
      expect(await c.set(k("x"), "1")).toBe("OK");
      expect(await bridgeUser(own.url, own.token)).toBe(user);
      expect(await t.direct.call("ACL", "DELUSER", user)).toBe(1);
      let value: unknown;
      const deadline = Date.now() + 8000;
      while (Date.now() < deadline) {
        value = await c.get(k("x")).catch(() => undefined);
        if (value !== undefined) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(value).toBe(1);
      expect(await bridgeUser(own.url, own.token)).toBe(user);
    } finally {
      await own.close();
      await t.direct.call("ACL", "DELUSER", user);
    }
  }, 20_000);

  it("REDIS_BRIDGE_ALLOW_COMMANDS lifts both layers, on a user of that bridge's own", async () => {
    const wide = await startBridgeUnderTest({ REDIS_BRIDGE_ALLOW_COMMANDS: "KEYS" });
    const user = aclUserName(USER, new Set(["KEYS"]));
    try {
      expect(user).toMatch(/^edge-feed-bridge-[0-9a-f]{8}$/);
      expect(await bridgeUser(wide.url, wide.token)).toBe(user);
      await t.direct.set(k("listed"), "1");
      const c = new Redis({ url: wide.url, token: wide.token });
      expect(await c.keys(k("list*"))).toEqual([k("listed")]);
      expect(await c.eval("return redis.call('keys', KEYS[1])", [k("list*")], [])).toEqual([k("listed")]);
      expect(await dryRun(user, "flushall")).toMatch(/no permissions to run/);
      expect(await dryRun(USER, "keys", "*")).toMatch(/no permissions to run/);
    } finally {
      await wide.close();
      await t.direct.call("ACL", "DELUSER", user);
    }
  });
});

describe("the bridge behaves like Upstash where it once differed", () => {
  /** A path-form request with raw bytes as the body, as `curl -X POST --data-binary` sends it. */
  async function pathForm(path: string, init: RequestInit = {}, auth = true) {
    const headers = new Headers(init.headers);
    if (auth) headers.set("authorization", `Bearer ${t.token}`);
    const res = await fetch(`${t.url}${path}`, { method: "POST", ...init, headers });
    const text = await res.text();
    return { status: res.status, body: text === "" ? undefined : (JSON.parse(text) as unknown), headers: res.headers };
  }

  it("a binary path-form body is stored byte for byte", async () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80]);
    const res = await pathForm(`/set/${encodeURIComponent(k("bin"))}`, { body: bytes });
    expect(res).toMatchObject({ status: 200, body: { result: "OK" } });
    const stored = await t.direct.getBuffer(k("bin"));
    expect(stored?.toString("hex")).toBe("fffe0080");
    // And read back through the bridge as the same bytes.
    const back = await pathForm(`/get/${encodeURIComponent(k("bin"))}`, { headers: { "upstash-encoding": "base64" } });
    expect(back.body).toEqual({ result: bytes.toString("base64") });
  });

  it("query parameters are appended as further arguments (POST /set/K?EX=100)", async () => {
    const res = await pathForm(`/set/${encodeURIComponent(k("ttl"))}?EX=100`, { body: "val" });
    expect(res).toMatchObject({ status: 200, body: { result: "OK" } });
    expect(await t.direct.get(k("ttl"))).toBe("val");
    const ttl = await t.direct.ttl(k("ttl"));
    expect(ttl).toBeGreaterThan(95);
    expect(ttl).toBeLessThanOrEqual(100);
    // A flag without a value is one argument: NX refuses to overwrite.
    const nx = await pathForm(`/set/${encodeURIComponent(k("ttl"))}?NX`, { body: "other" });
    expect(nx.body).toEqual({ result: null });
    expect(await t.direct.get(k("ttl"))).toBe("val");
    // GET path form too: /set/key/value?PX=5000
    await pathForm(`/set/${encodeURIComponent(k("px"))}/v?PX=5000`, { method: "GET" });
    expect(await t.direct.pttl(k("px"))).toBeGreaterThan(4000);
  });

  it("with base64, OK comes back as OK (the client sees it unchanged); other statuses stay encoded", async () => {
    const set = await post("/", ["SET", k("ok"), "v"], { "upstash-encoding": "base64" });
    expect(set).toEqual({ status: 200, body: { result: "OK" } });
    const ping = await post("/", ["PING"], { "upstash-encoding": "base64" });
    expect(ping.body).toEqual({ result: Buffer.from("PONG").toString("base64") });
    const pipe = await post(
      "/pipeline",
      [
        ["SET", k("ok"), "w"],
        ["GET", k("ok")],
      ],
      { "upstash-encoding": "base64" },
    );
    expect(pipe.body).toEqual([{ result: "OK" }, { result: Buffer.from("w").toString("base64") }]);
    const tx = await post("/multi-exec", [["SET", k("ok"), "x"]], { "upstash-encoding": "base64" });
    expect(tx.body).toEqual([{ result: "OK" }]);
    expect(await client.set(k("ok"), "y")).toBe("OK");
    expect(await client.multi().set(k("ok"), "z").exec()).toEqual(["OK"]);
  });

  it("a Lua error nested in a returned table is marked as an error, as Redis marks it", async () => {
    const script = "return {1, redis.error_reply('MYERR nested'), redis.pcall('INCR', KEYS[1]), 'text'}";
    await t.direct.set(k("str"), "not-a-number");
    // Direct Redis: the nested entries are error replies.
    const direct = (await t.direct.eval(script, 1, k("str")).catch((e) => e)) as unknown[];
    expect(direct[1]).toBeInstanceOf(Error);
    expect((direct[1] as Error).message).toBe("MYERR nested");
    expect(direct[2]).toBeInstanceOf(Error);
    for (const encoding of ["base64", "utf8"] as const) {
      const res = await post(
        "/",
        ["EVAL", script, "1", k("str")],
        encoding === "base64" ? { "upstash-encoding": "base64" } : {},
      );
      const text = encoding === "base64" ? Buffer.from("text").toString("base64") : "text";
      expect(res, encoding).toEqual({
        status: 200,
        body: {
          result: [1, { error: "MYERR nested" }, { error: (direct[2] as Error).message }, text],
        },
      });
    }
    // @upstash/redis hands the marked entries through as objects.
    expect(await raw.eval(script, [k("str")], [])).toEqual([
      1,
      { error: "MYERR nested" },
      { error: (direct[2] as Error).message },
      "text",
    ]);
  });

  it("?_token= authenticates, PUT works like POST, HEAD like GET, other methods are 405", async () => {
    const viaQuery = await pathForm(`/set/${encodeURIComponent(k("q"))}/v?_token=${t.token}`, { method: "GET" }, false);
    expect(viaQuery).toMatchObject({ status: 200, body: { result: "OK" } });
    expect(await t.direct.get(k("q"))).toBe("v"); // _token is not an argument
    const wrong = await pathForm(`/get/${encodeURIComponent(k("q"))}?_token=nope`, { method: "GET" }, false);
    expect(wrong).toMatchObject({ status: 401, body: { error: "Unauthorized" } });
    const none = await pathForm(`/get/${encodeURIComponent(k("q"))}`, { method: "GET" }, false);
    expect(none.status).toBe(401);
    const put = await fetch(`${t.url}/`, {
      method: "PUT",
      headers: { authorization: `Bearer ${t.token}` },
      body: JSON.stringify(["SET", k("put"), "p"]),
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ result: "OK" });
    const putPath = await pathForm(`/set/${encodeURIComponent(k("put2"))}`, { method: "PUT", body: "pp" });
    expect(putPath.body).toEqual({ result: "OK" });
    expect(await t.direct.mget(k("put"), k("put2"))).toEqual(["p", "pp"]);
    const pipe = await fetch(`${t.url}/pipeline?_token=${t.token}`, {
      method: "PUT",
      body: JSON.stringify([["GET", k("put")]]),
    });
    expect(await pipe.json()).toEqual([{ result: "p" }]);
    const head = await fetch(`${t.url}/get/${encodeURIComponent(k("put"))}`, {
      method: "HEAD",
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(head.status).toBe(200);
    const del = await pathForm(`/del/${encodeURIComponent(k("put"))}`, { method: "DELETE" });
    expect(del.status).toBe(405);
    expect(del.body).toEqual({ error: "ERR method DELETE is not allowed; use GET, HEAD, POST or PUT" });
    expect(await t.direct.get(k("put"))).toBe("p");
  });

  it("@upstash/redis subscribe() and psubscribe() receive messages over server-sent events", async () => {
    const channel = k("chan");
    const sub = client.subscribe<unknown>([channel]);
    const psub = client.psubscribe<unknown>([`${k("p")}:*`]);
    const got: unknown[] = [];
    const pgot: unknown[] = [];
    const counts: number[] = [];
    sub.on("message", (m) => got.push(m));
    sub.on("subscribe", (n) => counts.push(n as number));
    psub.on("pmessage", (m) => pgot.push(m));
    const errors: unknown[] = [];
    sub.on("error", (e) => errors.push(e));
    try {
      const until = async (check: () => boolean, what: string) => {
        const deadline = Date.now() + 5000;
        while (!check()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      // Publish until the subscription is live (SSE setup is asynchronous on the client).
      await until(() => counts.length > 0, "the subscribe confirmation");
      expect(counts).toEqual([1]);
      expect(await t.direct.publish(channel, JSON.stringify({ hello: "wörld" }))).toBe(1);
      expect(await client.publish(channel, "plain text")).toBe(1);
      await until(() => got.length === 2, "two messages");
      expect(got).toEqual([
        { channel, message: { hello: "wörld" } },
        { channel, message: "plain text" },
      ]);
      const pchannel = `${k("p")}:x`;
      const deadline = Date.now() + 5000;
      while ((await t.direct.publish(pchannel, "42")) === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await until(() => pgot.length > 0, "a pattern message");
      expect(pgot[0]).toEqual({ pattern: `${k("p")}:*`, channel: pchannel, message: 42 });
      expect(errors).toEqual([]);
    } finally {
      await sub.unsubscribe();
      await psub.unsubscribe();
    }
    // Unsubscribing (the client aborts its fetch) closes the bridge's Redis connections.
    const deadline = Date.now() + 5000;
    while ((await t.direct.pubsub("NUMSUB", channel))[1] !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await t.direct.pubsub("NUMSUB", channel))[1]).toBe(0);
  });

  it("the raw SSE stream has the Upstash event lines; a subscribe in a command body names the SSE form", async () => {
    const channel = k("raw");
    const ac = new AbortController();
    const res = await fetch(`${t.url}/subscribe/${encodeURIComponent(channel)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.token}`, accept: "text/event-stream" },
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    const read = async (until: string) => {
      while (!text.includes(until)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    };
    await read("\n\n");
    expect(text).toBe(`data: subscribe,${channel},1\n\n`);
    await t.direct.publish(channel, "a,b");
    await read("a,b\n\n");
    expect(text).toBe(`data: subscribe,${channel},1\n\ndata: message,${channel},a,b\n\n`);
    ac.abort();
    const failed = await post("/", ["SUBSCRIBE", channel]);
    expect(failed.status).toBe(400);
    expect(failed.body).toEqual({
      error:
        "ERR command 'subscribe' is disabled on this bridge in a command body; use the server-sent-events form POST /subscribe/<channel>",
    });
  });
});
