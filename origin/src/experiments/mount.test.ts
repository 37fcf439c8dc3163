import { Hono } from "hono";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ApiError } from "#core/errors.ts";
import { createOriginApp } from "../http.ts";
import { createMetrics } from "../metrics.ts";
import { experimentsApp } from "./api.ts";

const log = pino({ level: "silent" });
const TOKEN = "unit-operator-token-0123456789-abcdef";

/** The origin's app with a write API that refuses everything unsigned, as the real one does. */
function app() {
  const writes = new Hono().use("*", () => {
    throw new ApiError("unauthorized", "request not signed by the edge: unsigned request");
  });
  const experiments = experimentsApp({
    pg: { query: async () => ({ rows: [] }) } as never,
    redis: {} as never,
    clickhouse: {} as never,
    operatorToken: TOKEN,
    sharedSecret: "unit-origin-secret-0123456789-abcdef",
    log,
  });
  return createOriginApp({
    parts: async () => ({}),
    checks: {},
    metrics: createMetrics(),
    log,
    writes: writes as never,
    experiments,
  });
}

describe("the operator API beside the write API", () => {
  it("answers /v1/experiments itself: 401 without a token, 403 with a user's, 200 with the operator's", async () => {
    const a = app();
    const none = await a.request("/v1/experiments");
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { message: string } }).error.message).toContain("operator token");
    const user = await a.request("/v1/experiments", {
      headers: { authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x" },
    });
    expect(user.status).toBe(403);
    expect(await user.json()).toMatchObject({ error: { code: "forbidden" } });
    const ok = await a.request("/v1/experiments", { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ experiments: [] });
    expect(ok.headers.get("cache-control")).toBe("no-store");
  });
  it("leaves every other /v1 path to the write API", async () => {
    const res = await app().request("/v1/posts", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("not signed by the edge");
  });
  it("refuses a bad name and a bad body in the envelope", async () => {
    const a = app();
    const auth = { authorization: `Bearer ${TOKEN}` };
    const bad = await a.request("/v1/experiments/Not_A_Slug", { headers: auth });
    expect(bad.status).toBe(400);
    const json = { ...auth, "content-type": "application/json" };
    for (const text of ["{", ""]) {
      const body = await a.request("/v1/experiments", { method: "POST", headers: json, body: text });
      expect(body.status).toBe(400);
      expect(await body.json()).toEqual({ error: { code: "bad_request", message: "body must be JSON" } });
    }
    const unlabelled = await a.request("/v1/experiments", { method: "POST", headers: auth, body: "{}" });
    expect(unlabelled.status).toBe(415);
    expect(await unlabelled.json()).toMatchObject({ error: { code: "unsupported_media_type" } });
    const schema = await a.request("/v1/experiments/x/promote", {
      method: "POST",
      headers: json,
      body: '{"variant":7}',
    });
    expect(schema.status).toBe(400);
    expect(((await schema.json()) as { error: { message: string } }).error.message).toMatch(/^variant: /);
  });
});
