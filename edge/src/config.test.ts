import { describe, expect, it } from "vitest";
import { EVENTS_STREAM_KEY } from "#core/keys.ts";
import { DEFAULT_WEIGHTS } from "#core/ranking/score.ts";
import { parseEdgeConfig, readEdgeConfig } from "./config.ts";
import type { Env } from "./env.ts";

const minimal: Env = {
  ORIGIN_URL: "http://127.0.0.1:8788",
  UPSTASH_REDIS_REST_URL: "http://127.0.0.1:8079",
  UPSTASH_REDIS_REST_TOKEN: "token",
  CLICKHOUSE_URL: "http://127.0.0.1:8123",
};

describe("parseEdgeConfig", () => {
  it("applies the documented defaults", () => {
    expect(parseEdgeConfig(minimal)).toEqual({
      origin: { url: "http://127.0.0.1:8788", sharedSecret: undefined, timeoutMs: 3000 },
      redis: { url: "http://127.0.0.1:8079", token: "token", timeoutMs: 300 },
      clickhouse: {
        url: "http://127.0.0.1:8123",
        username: "default",
        password: "",
        database: "feed",
        timeoutMs: 1500,
      },
      auth: { maxTtlS: 86_400, jwtSecret: undefined, jwksUrl: undefined, issuer: undefined, audience: undefined },
      corsOrigins: "*",
      events: { stream: EVENTS_STREAM_KEY },
      ranking: { weights: DEFAULT_WEIGHTS },
      index: { namespace: "" },
      rateLimits: { feed: undefined, suggestions: undefined, writes: undefined, anon: undefined, events: undefined },
    });
  });

  it("takes Rate Limiting bindings and refuses something else under their names", () => {
    const binding = { limit: async () => ({ success: true }) };
    expect(parseEdgeConfig({ ...minimal, RATE_LIMIT_FEED: binding }).rateLimits.feed).toBe(binding);
    expect(parseEdgeConfig({ ...minimal, RATE_LIMIT_SUGGESTIONS: binding }).rateLimits.suggestions).toBe(binding);
    expect(() => parseEdgeConfig({ ...minimal, RATE_LIMIT_ANON: "600/60s" })).toThrow(
      /RATE_LIMIT_ANON: must be a Rate Limiting binding/,
    );
  });

  it("takes the serving index's namespace and refuses a malformed one, naming it", () => {
    expect(parseEdgeConfig({ ...minimal, INDEX_NAMESPACE: "bench_m:" }).index.namespace).toBe("bench_m:");
    expect(() => parseEdgeConfig({ ...minimal, INDEX_NAMESPACE: "has space" })).toThrow(/INDEX_NAMESPACE/);
  });

  it("types what is set", () => {
    const c = parseEdgeConfig({
      ...minimal,
      ORIGIN_TIMEOUT_MS: "2500",
      REDIS_TIMEOUT_MS: "150",
      CORS_ORIGINS: " https://a.example , https://b.example,",
      RANK_WEIGHT_ENGAGEMENT: "0.5",
      JWT_JWKS_URL: "https://id.example/.well-known/jwks.json",
      JWT_ISSUER: "https://id.example",
    });
    expect(c.origin.timeoutMs).toBe(2500);
    expect(c.redis.timeoutMs).toBe(150);
    expect(c.corsOrigins).toEqual(["https://a.example", "https://b.example"]);
    expect(c.ranking.weights).toEqual({ ...DEFAULT_WEIGHTS, engagement: 0.5 });
    expect(c.auth).toMatchObject({ jwksUrl: "https://id.example/.well-known/jwks.json", issuer: "https://id.example" });
  });

  it("throws one 500 ApiError naming each bad variable", () => {
    let err: unknown;
    try {
      parseEdgeConfig({ ...minimal, REDIS_TIMEOUT_MS: "x", UPSTASH_REDIS_REST_TOKEN: "" });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ status: 500, code: "internal" });
    expect((err as Error).message).toBe(
      "invalid edge configuration: UPSTASH_REDIS_REST_TOKEN: is not set; REDIS_TIMEOUT_MS: must be a positive integer",
    );
  });
});

describe("readEdgeConfig", () => {
  it("parses a bindings object once and hands back the same config", () => {
    const env = { ...minimal };
    expect(readEdgeConfig(env)).toBe(readEdgeConfig(env));
    expect(readEdgeConfig({ ...minimal })).not.toBe(readEdgeConfig(env));
  });
});
