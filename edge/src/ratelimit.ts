/**
 * Per-user rate limits (@upstash/ratelimit over the same Redis), built once per isolate.
 * A limiter that times out lets the request through (fail open) and says so in the log line:
 * losing events to a slow limiter would be worse than briefly not limiting.
 */
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import { ApiError } from "../core/index.ts";
import type { Env } from "./env.ts";

const DEFAULT_EVENTS_LIMIT = "120/10s";
let cache: { key: string; limiter: Ratelimit } | null = null;

/** Parses "N/Ws|m|h" (requests per window). */
export function parseLimit(spec: string): { tokens: number; window: `${number} ${"s" | "m" | "h"}` } {
  const m = /^(\d+)\/(\d+)(s|m|h)$/.exec(spec.trim());
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new Error(`rate limit must look like 120/10s, got ${spec}`);
  return { tokens: Number(m[1]), window: `${Number(m[2])} ${m[3] as "s" | "m" | "h"}` };
}

function limiterFor(env: Env, redis: Redis): Ratelimit {
  const spec = env.EVENTS_RATE_LIMIT || DEFAULT_EVENTS_LIMIT;
  if (cache?.key !== spec) {
    const { tokens, window } = parseLimit(spec);
    cache = {
      key: spec,
      limiter: new Ratelimit({
        redis,
        limiter: Ratelimit.slidingWindow(tokens, window),
        prefix: "rl:events",
        timeout: 250,
        analytics: false,
      }),
    };
  }
  return cache.limiter;
}

/**
 * Throws a 429 with Retry-After when the user is over the limit. Otherwise returns why it let
 * the request through when that was not a normal check ("timeout", "error-fail-open").
 */
export async function enforceEventsLimit(env: Env, redis: Redis, userId: string): Promise<string | undefined> {
  let r: Awaited<ReturnType<Ratelimit["limit"]>>;
  try {
    r = await limiterFor(env, redis).limit(userId);
  } catch {
    // Redis unreachable: the write that follows fails too and answers 503; don't mask it as a 500.
    return "error-fail-open";
  }
  if (!r.success) {
    const retryAfter = Math.max(1, Math.ceil((r.reset - Date.now()) / 1000));
    throw new ApiError("rate_limited", `too many event requests; retry in ${retryAfter} s`, undefined, {
      headers: { "Retry-After": String(retryAfter) },
    });
  }
  return r.reason;
}
