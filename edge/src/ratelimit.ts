/**
 * Per-user rate limits (@upstash/ratelimit over the same Redis), built once per isolate with
 * the other clients (clients.ts). A limiter that times out lets the request through (fail
 * open) and says so in the log line: losing events to a slow limiter would be worse than
 * briefly not limiting.
 */
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import { ApiError, EVENTS_RATE_LIMIT_PREFIX } from "../core/index.ts";
import type { RateLimit } from "./config.ts";

export function createEventsLimiter(redis: Redis, limit: RateLimit): Ratelimit {
  return new Ratelimit({
    redis,
    limiter: Ratelimit.slidingWindow(limit.tokens, limit.window),
    prefix: EVENTS_RATE_LIMIT_PREFIX,
    timeout: 250,
    analytics: false,
  });
}

/**
 * Throws a 429 with Retry-After when the user is over the limit. Otherwise returns why it let
 * the request through when that was not a normal check ("timeout", "error-fail-open").
 */
export async function enforceEventsLimit(limiter: Ratelimit, userId: string): Promise<string | undefined> {
  let r: Awaited<ReturnType<Ratelimit["limit"]>>;
  try {
    r = await limiter.limit(userId);
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
