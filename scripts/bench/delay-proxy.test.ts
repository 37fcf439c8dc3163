import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDelayProxy, upstashRequestWrites } from "./delay-proxy.ts";

describe("delay proxy", () => {
  let upstream: Server;
  let target: string;
  beforeAll(async () => {
    upstream = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      res.writeHead(201, { "content-type": "application/json", "x-seen-path": req.url ?? "" });
      res.end(JSON.stringify({ method: req.method, body: Buffer.concat(chunks).toString("utf8") }));
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => upstream.close(() => r())));

  it("passes method, path, body, status and headers through, after the delay both ways", async () => {
    const proxy = await startDelayProxy({ target, oneWayMs: 40 });
    try {
      const t0 = performance.now();
      const res = await fetch(`${proxy.url}/a/b?c=1`, { method: "POST", body: "hello" });
      const ms = performance.now() - t0;
      expect(res.status).toBe(201);
      expect(res.headers.get("x-seen-path")).toBe("/a/b?c=1");
      expect(await res.json()).toEqual({ method: "POST", body: "hello" });
      expect(ms).toBeGreaterThanOrEqual(80); // 40 ms each way
      expect(proxy.counts.get(40)).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it("chooses the delay per request", async () => {
    const proxy = await startDelayProxy({ target, oneWayMs: (req) => (req.method === "GET" ? 0 : 30) });
    try {
      await fetch(`${proxy.url}/x`);
      await fetch(`${proxy.url}/x`, { method: "POST", body: "w" });
      expect(Object.fromEntries(proxy.counts)).toEqual({ 0: 1, 30: 1 });
    } finally {
      await proxy.close();
    }
  });

  it("tells Upstash REST reads from writes in every request shape", () => {
    const b = (v: unknown) => Buffer.from(JSON.stringify(v));
    expect(
      upstashRequestWrites(
        "/pipeline",
        b([
          ["GET", "k"],
          ["HGETALL", "h"],
          ["LRANGE", "l", 0, 9],
        ]),
      ),
    ).toBe(false);
    expect(
      upstashRequestWrites(
        "/pipeline",
        b([
          ["GET", "k"],
          ["EXPIRE", "k", 10],
        ]),
      ),
    ).toBe(true);
    expect(upstashRequestWrites("/", b(["XADD", "s", "*", "f", "v"]))).toBe(true);
    expect(upstashRequestWrites("/", b(["smismember", "s", "a"]))).toBe(false);
    expect(upstashRequestWrites("/get/some-key", Buffer.alloc(0))).toBe(false);
    expect(upstashRequestWrites("/set/some-key/v", Buffer.alloc(0))).toBe(true);
    expect(upstashRequestWrites("/pipeline", Buffer.from("not json"))).toBe(true);
    // The read side's hydration and relations: reads.
    expect(upstashRequestWrites("/", b(["ZMSCORE", "z", "a", "b"]))).toBe(false);
    // A script: a write unless the caller says the request would name it EVAL_RO.
    const script = "return redis.call('ZRANGE', KEYS[1], 0, 1)";
    const page = b([
      ["HMGET", "h", "a"],
      ["EVAL", script, 1, "z"],
    ]);
    expect(upstashRequestWrites("/pipeline", page)).toBe(true);
    expect(upstashRequestWrites("/pipeline", page, new Set([script]))).toBe(false);
    expect(upstashRequestWrites("/", b(["EVAL", "return redis.call('DEL', KEYS[1])", 1, "k"]), new Set([script]))).toBe(
      true,
    );
    expect(upstashRequestWrites("/", b(["EVAL_RO", script, 1, "z"]))).toBe(false);
  });
});
