/**
 * The worker's `[[ratelimits]]` bindings (wrangler.toml) for the tools that run it locally:
 * reading them (for plain workerd, which has no wrangler.toml) and overriding their limits for
 * one run. wrangler.toml holds the production defaults, sized for a person using an app; the
 * benchmark and the tests that must not be throttled pass higher limits here, and the defaults
 * never change for them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";

/** Every Rate Limiting binding the worker reads (edge/src/env.ts). */
export const RATE_LIMIT_BINDINGS = [
  "RATE_LIMIT_FEED",
  "RATE_LIMIT_SUGGESTIONS",
  "RATE_LIMIT_WRITES",
  "RATE_LIMIT_ANON",
  "RATE_LIMIT_EVENTS",
  "RATE_LIMIT_READS",
  "RATE_LIMIT_LIVE",
] as const;
export type RateLimitName = (typeof RATE_LIMIT_BINDINGS)[number];

/** Per-binding limits (requests per period) replacing wrangler.toml's for one run. */
export type RateLimitOverrides = Partial<Record<RateLimitName, number>>;

const overridesSchema = z.partialRecord(z.enum(RATE_LIMIT_BINDINGS), z.number().int().min(1).max(1_000_000_000));

/**
 * The benchmark's limits (and those of the integration tests that drive the worker as a load,
 * not as a user): what the benchmark was sized by. Its hottest Zipf user makes ~200-300 feed
 * requests a minute, and the followee phase polls one follower's whole session (5 pages) every
 * ~20 ms for up to 30 s (~1,600 requests); its busiest author writes ≤ 90 posts in the paging
 * phase; event intake runs 8 clients of 100-event batches flat out. A person needs none of it.
 */
export const BENCH_RATE_LIMITS: Record<RateLimitName, number> = {
  RATE_LIMIT_FEED: 2400,
  RATE_LIMIT_SUGGESTIONS: 2400,
  RATE_LIMIT_WRITES: 120,
  RATE_LIMIT_ANON: 240,
  RATE_LIMIT_EVENTS: 720,
  RATE_LIMIT_READS: 2400,
  // The live phase opens up to 10,000 connections, a few per user, and reconnects some.
  RATE_LIMIT_LIVE: 2400,
};

export type RateLimits = Record<string, { namespace_id: string; simple: { limit: number; period: 10 | 60 } }>;

/**
 * The top-level `[[ratelimits]]` bindings of wrangler.toml, in miniflare's `ratelimits` option. A
 * small reader for the shape wrangler.toml uses: `name`, `namespace_id`, `simple = { limit, period }`.
 */
export function rateLimitsOf(toml: string): RateLimits {
  const out: RateLimits = {};
  for (const block of toml.split(/^\[\[ratelimits\]\]\s*$/m).slice(1)) {
    const body = block.split(/^\[/m)[0] ?? "";
    const name = /^name\s*=\s*"([^"]+)"/m.exec(body)?.[1];
    const ns = /^namespace_id\s*=\s*"([^"]+)"/m.exec(body)?.[1];
    const limit = /^simple\s*=\s*\{\s*limit\s*=\s*(\d+)/m.exec(body)?.[1];
    const period = /^simple\s*=.*period\s*=\s*(\d+)/m.exec(body)?.[1];
    if (!name || !ns || !limit || (period !== "10" && period !== "60")) {
      throw new Error(`wrangler.toml: a [[ratelimits]] entry this reader does not understand:\n${body}`);
    }
    out[name] = { namespace_id: ns, simple: { limit: Number(limit), period: Number(period) as 10 | 60 } };
  }
  return out;
}

/** `ratelimits` with the overridden limits; throws on a binding wrangler.toml does not have. */
export function applyRateLimits(limits: RateLimits, overrides: RateLimitOverrides = {}): RateLimits {
  const o = overridesSchema.parse(overrides);
  const out: RateLimits = {};
  for (const [name, rl] of Object.entries(limits)) {
    const limit = o[name as RateLimitName];
    out[name] = limit === undefined ? rl : { ...rl, simple: { ...rl.simple, limit } };
  }
  for (const name of Object.keys(o)) {
    if (!(name in limits)) throw new Error(`rate limit override: wrangler.toml has no [[ratelimits]] ${name}`);
  }
  return out;
}

/**
 * wrangler.toml's text with the top-level `[[ratelimits]]` limits overridden (the
 * `[env.*.ratelimits]` ones are left alone) and `main` made absolute against `configDir`, so
 * the text works from another directory. Throws on a binding the top level does not have.
 */
export function withRateLimits(toml: string, overrides: RateLimitOverrides, configDir: string): string {
  const o = overridesSchema.parse(overrides);
  const lines = toml.split("\n");
  const seen = new Set<string>();
  let inTop = false;
  let inSection = false;
  let name: string | undefined;
  let simpleAt = -1;
  const flush = () => {
    if (inTop && name !== undefined && simpleAt >= 0) {
      seen.add(name);
      const limit = o[name as RateLimitName];
      if (limit !== undefined)
        lines[simpleAt] = (lines[simpleAt] as string).replace(/limit\s*=\s*\d+/, `limit = ${limit}`);
    }
    name = undefined;
    simpleAt = -1;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^\s*\[/.test(line)) {
      flush();
      inSection = true;
      inTop = /^\[\[ratelimits\]\]\s*$/.test(line);
    } else if (inTop) {
      const m = /^name\s*=\s*"([^"]+)"/.exec(line);
      if (m) name = m[1];
      else if (/^simple\s*=\s*\{\s*limit\s*=\s*\d+/.test(line)) simpleAt = i;
    } else if (!inSection) {
      const main = /^main\s*=\s*"([^"]+)"\s*$/.exec(line);
      if (main) lines[i] = `main = ${JSON.stringify(resolve(configDir, main[1] as string))}`;
    }
  }
  flush();
  for (const n of Object.keys(o)) {
    if (!seen.has(n)) throw new Error(`rate limit override: wrangler.toml has no [[ratelimits]] ${n}`);
  }
  return lines.join("\n");
}

/**
 * A copy of the wrangler config at `configPath` with these limits, in a new temporary
 * directory; `dispose()` removes it.
 */
export function configWithRateLimits(
  configPath: string,
  overrides: RateLimitOverrides,
): { path: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "wrangler-ratelimits-"));
  const path = join(dir, "wrangler.toml");
  writeFileSync(path, withRateLimits(readFileSync(configPath, "utf8"), overrides, dirname(configPath)));
  return { path, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
