import { Hono } from "hono";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ApiError } from "#core/errors.ts";
import { createOriginApp } from "./http.ts";
import { createMetrics } from "./metrics.ts";

const log = pino({ level: "silent" });

function app(opts: { relayOk?: boolean; redisOk?: boolean } = {}) {
  const writes = new Hono()
    .get("/refused", () => {
      throw new ApiError("forbidden", "not yours");
    })
    .get("/broken", () => {
      throw new Error("db password in here");
    });
  return createOriginApp({
    parts: async () => ({
      clients: { ok: true },
      relay: { ok: opts.relayOk ?? true, detail: { relayed: 3 } },
    }),
    checks: { redis: async () => ({ ok: opts.redisOk ?? true }) },
    metrics: createMetrics(),
    log,
    writes: writes as never,
  });
}

describe("origin HTTP app", () => {
  it("/healthz is 200 with the service fields and every part's health", async () => {
    const res = await app({ relayOk: false }).request("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: "ok",
      service: expect.any(String),
      component: "origin",
      version: expect.any(String),
      parts: { clients: { ok: true }, relay: { ok: false, detail: { relayed: 3 } } },
    });
  });

  it("/readyz needs every service and every part ok", async () => {
    expect((await app().request("/readyz")).status).toBe(200);
    for (const down of [{ relayOk: false }, { redisOk: false }]) {
      const res = await app(down).request("/readyz");
      expect(res.status).toBe(503);
      const body = (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
      expect(body.ready).toBe(false);
      expect(Object.keys(body.checks).sort()).toEqual(["clients", "redis", "relay"]);
    }
  });

  it("answers errors and unknown routes in the one envelope", async () => {
    const a = app();
    const missing = await a.request("/nope");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: "not_found", message: "no route for GET /nope" } });
    const refused = await a.request("/v1/refused");
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: { code: "forbidden", message: "not yours" } });
    const broken = await a.request("/v1/broken");
    expect(broken.status).toBe(500);
    expect(await broken.json()).toEqual({ error: { code: "internal", message: "internal error" } });
    for (const res of [missing, refused, broken]) {
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    const health = await a.request("/healthz");
    expect(health.headers.get("x-content-type-options")).toBe("nosniff");
    expect(health.headers.get("cache-control")).toBeNull();
  });
});
