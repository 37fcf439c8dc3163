import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { applyRateLimits, BENCH_RATE_LIMITS, RATE_LIMIT_BINDINGS, rateLimitsOf, withRateLimits } from "./ratelimits.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const TOML = readFileSync(resolve(ROOT, "wrangler.toml"), "utf8");

describe("rate limit overrides", () => {
  it("wrangler.toml has every binding the worker reads, at the top level and in production", () => {
    expect(Object.keys(rateLimitsOf(TOML)).sort()).toEqual([...RATE_LIMIT_BINDINGS].sort());
    const production = (TOML.match(/^\[\[env\.production\.ratelimits\]\]$/gm) ?? []).length;
    expect(production).toBe(RATE_LIMIT_BINDINGS.length);
  });

  it("overrides only the top-level limits named, keeps production's, and makes main absolute", () => {
    const out = withRateLimits(TOML, { RATE_LIMIT_FEED: 5000 }, ROOT);
    const top = rateLimitsOf(out);
    expect(top.RATE_LIMIT_FEED?.simple).toEqual({ limit: 5000, period: 60 });
    const before = rateLimitsOf(TOML);
    for (const n of RATE_LIMIT_BINDINGS.filter((n) => n !== "RATE_LIMIT_FEED")) expect(top[n]).toEqual(before[n]);
    // [env.production] is untouched: the text after it is the same.
    const prod = (t: string) => t.slice(t.indexOf("[env.production]"));
    expect(prod(out)).toBe(prod(TOML));
    expect(out).toMatch(new RegExp(`^main = "${resolve(ROOT, "edge/src/index.ts")}"$`, "m"));
  });

  it("the benchmark's limits are above the production defaults, never below", () => {
    const defaults = rateLimitsOf(TOML);
    for (const n of RATE_LIMIT_BINDINGS) {
      expect(BENCH_RATE_LIMITS[n]).toBeGreaterThanOrEqual(defaults[n]?.simple.limit ?? Infinity);
    }
    expect(applyRateLimits(defaults, BENCH_RATE_LIMITS).RATE_LIMIT_FEED?.simple.limit).toBe(2400);
  });

  it("refuses a binding wrangler.toml does not have and a limit that is not a positive integer", () => {
    expect(() => withRateLimits(TOML, { RATE_LIMIT_NOPE: 1 } as never, ROOT)).toThrow();
    expect(() => withRateLimits(TOML, { RATE_LIMIT_FEED: 0 }, ROOT)).toThrow();
    expect(() => withRateLimits(TOML, { RATE_LIMIT_FEED: 1.5 }, ROOT)).toThrow();
    expect(() => applyRateLimits({}, { RATE_LIMIT_FEED: 10 })).toThrow(/no \[\[ratelimits\]\] RATE_LIMIT_FEED/);
  });
});
