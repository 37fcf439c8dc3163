/**
 * Per-user rate limits (@upstash/ratelimit over the same Redis), built once per isolate with
 * the other clients (clients.ts). A limiter that times out lets the request through (fail
 * open) and says so in the log line: losing events to a slow limiter would be worse than
 * briefly not limiting.
 */
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import type { MiddlewareHandler } from "hono";
import { ApiError, EVENTS_RATE_LIMIT_PREFIX } from "../core/index.ts";
import type { RateLimit } from "./config.ts";
import type { AppEnv } from "./env.ts";

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

/**
 * The period of every `[[ratelimits]]` binding in wrangler.toml, seconds: the binding does not
 * say when a key's window resets, so Retry-After is the whole period (an upper bound).
 */
export const RATE_LIMIT_PERIOD_S = 60;

/** Which binding a route is counted against, and by what key. */
export type RouteLimit = "reads" | "writes" | "anon";

/** The client's address as Cloudflare reports it (wrangler dev sets it too). */
function clientIp(header: string | undefined): string {
  return header && header.length <= 64 ? header : "unknown";
}

/**
 * Per-key request limit through a Workers Rate Limiting binding (no Redis round trip): per
 * user for "reads" and "writes" (after requireUser), per client IP for "anon". Over the limit
 * → 429 `rate_limited` with Retry-After, in the envelope. A binding that is absent or throws
 * lets the request through and says so in the log line (`ratelimit`): the limit is abuse
 * protection, not a reason to fail a user.
 */
export const routeLimit =
  (kind: RouteLimit): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const binding = c.var.config.rateLimits[kind];
    const log = c.get("logFields");
    if (!binding) {
      log.ratelimit = "absent-fail-open";
      return next();
    }
    const key = kind === "anon" ? `ip:${clientIp(c.req.header("cf-connecting-ip"))}` : `user:${c.get("userId")}`;
    let allowed = true;
    try {
      allowed = (await binding.limit({ key })).success;
    } catch (err) {
      log.ratelimit = "error-fail-open";
      log.ratelimit_error = String(err);
    }
    if (!allowed) {
      log.ratelimit = `limited:${kind}`;
      throw new ApiError("rate_limited", `too many requests; retry in ${RATE_LIMIT_PERIOD_S} s`, undefined, {
        headers: { "Retry-After": String(RATE_LIMIT_PERIOD_S) },
      });
    }
    await next();
  };
