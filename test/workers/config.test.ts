import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../edge/src/app.ts";
import type { Env } from "../../edge/src/env.ts";

// The worker with the test bindings, one variable changed: each call builds a new env object,
// i.e. what a new isolate with that configuration would see.
const app = createApp();
const withVars = (vars: Record<string, string | undefined>): Env => ({ ...(env as unknown as Env), ...vars });
const call = (e: Env, path = "/healthz") => app.fetch(new Request(`http://edge.test${path}`), e);

async function configError(res: Response): Promise<string> {
  expect(res.status).toBe(500);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("internal");
  expect(body.error.message).toMatch(/^invalid edge configuration: /);
  return body.error.message;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("edge configuration", () => {
  it("serves with the test bindings", async () => {
    expect((await call(withVars({}))).status).toBe(200);
  });

  it.each([
    ["REDIS_TIMEOUT_MS", "abc", /REDIS_TIMEOUT_MS: must be a positive integer/],
    // Used to fall back to 3000 ms silently.
    ["ORIGIN_TIMEOUT_MS", "-5", /ORIGIN_TIMEOUT_MS: must be a positive integer/],
    ["CLICKHOUSE_TIMEOUT_MS", "1.5", /CLICKHOUSE_TIMEOUT_MS: must be a positive integer/],
    // Used to be a 500 "internal error" on every feed request only.
    ["RANK_WEIGHT_AFFINITY", "-1", /RANK_WEIGHT_AFFINITY: must be a non-negative number/],
    ["RANK_WEIGHT_FRESHNESS", "lots", /RANK_WEIGHT_FRESHNESS: must be a non-negative number/],
    ["CLICKHOUSE_URL", "localhost:8123", /CLICKHOUSE_URL: must be an http\(s\) URL/],
    ["UPSTASH_REDIS_REST_TOKEN", undefined, /UPSTASH_REDIS_REST_TOKEN: is not set/],
    ["ORIGIN_URL", "", /ORIGIN_URL: is not set/],
    ["CLICKHOUSE_DATABASE", "feed; DROP", /CLICKHOUSE_DATABASE: must be a plain identifier/],
  ])("a bad %s (%j) is a 500 naming it, on every route", async (name, value, message) => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const bad = withVars({ [name]: value });
    for (const path of ["/healthz", "/api/v1/trending", "/api/v1/feed", "/nope"]) {
      expect(await configError(await call(bad, path))).toMatch(message);
    }
  });

  it("names every bad variable at once, never a value", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const message = await configError(
      await call(withVars({ REDIS_TIMEOUT_MS: "0", JWT_SECRET: "too-short-secret", RANK_WEIGHT_ENGAGEMENT: "x" })),
    );
    expect(message).toMatch(/REDIS_TIMEOUT_MS/);
    expect(message).toMatch(/JWT_SECRET: must be at least 32 characters/);
    expect(message).toMatch(/RANK_WEIGHT_ENGAGEMENT/);
    expect(message).not.toContain("too-short-secret");
  });

  it("logs the problem once per isolate, not once per request", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const bad = withVars({ REDIS_TIMEOUT_MS: "soon" });
    for (let i = 0; i < 3; i++) await configError(await call(bad));
    const lines = logged.mock.calls
      .map((args) => String(args[0]))
      .filter((l) => l.includes("invalid edge configuration"));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: "error", msg: "invalid edge configuration" });
  });

  it("takes an empty variable for an unset one (its default applies)", async () => {
    expect((await call(withVars({ REDIS_TIMEOUT_MS: "", RANK_WEIGHT_AFFINITY: "", CORS_ORIGINS: "" }))).status).toBe(
      200,
    );
  });

  it("applies CORS_ORIGINS as parsed once: listed origins only", async () => {
    const e = withVars({ CORS_ORIGINS: "https://a.example, https://b.example" });
    const preflight = (origin: string) =>
      app.fetch(
        new Request("http://edge.test/api/v1/events", {
          method: "OPTIONS",
          headers: { origin, "access-control-request-method": "POST" },
        }),
        e,
      );
    expect((await preflight("https://b.example")).headers.get("access-control-allow-origin")).toBe("https://b.example");
    expect((await preflight("https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
  });

  it("without ORIGIN_SHARED_SECRET only the writes fail, naming it", async () => {
    const e = withVars({ ORIGIN_SHARED_SECRET: undefined });
    expect((await call(e)).status).toBe(200);
    const { SignJWT } = await import("jose");
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("11111111-1111-4111-8111-111111111111")
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode((env as unknown as Env).JWT_SECRET));
    const res = await app.fetch(
      new Request("http://edge.test/api/v1/follows/22222222-2222-4222-8222-222222222222", {
        method: "PUT",
        headers: { authorization: `Bearer ${token}` },
      }),
      e,
    );
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/ORIGIN_SHARED_SECRET/);
  });
});
