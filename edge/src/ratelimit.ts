/**
 * Rate limits at the edge: Workers Rate Limiting bindings (wrangler.toml `[[ratelimits]]`),
 * counted at the Cloudflare location with no Redis round trip, on every route. Event intake
 * used to check a per-user @upstash/ratelimit window over Redis before writing its stream
 * entry: two sequential writes to the Redis primary per accepted batch (2 × 160 ms under the
 * benchmark's distance profile). Now accepting a batch is the stream write alone.
 *
 * The numbers are the bindings' (wrangler.toml), sized for a person using an app, not for the
 * benchmark: 120 feed pages and 60 suggestion lists a minute per user are far more than a
 * person scrolls or refreshes, and a burst of hundreds from one account is a script. The
 * benchmark and the tests that must not be throttled pass their own higher limits
 * (scripts/lib/ratelimits.ts); the production defaults never bend to them. Each number and its
 * reason: README, "Limits, errors and security".
 */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "#core/errors.ts";
import type { AppEnv } from "./env.ts";

/**
 * The period of every `[[ratelimits]]` binding in wrangler.toml, seconds: the binding does not
 * say when a key's window resets, so Retry-After is the whole period (an upper bound).
 */
export const RATE_LIMIT_PERIOD_S = 60;

/** Which binding a route is counted against, and by what key. */
export type RouteLimit = "feed" | "suggestions" | "writes" | "anon" | "events" | "reads" | "live";

/** The client's address as Cloudflare reports it (wrangler dev sets it too). */
function clientIp(header: string | undefined): string {
  return header && header.length <= 64 ? header : "unknown";
}

/**
 * Per-key request limit through a Workers Rate Limiting binding (no Redis round trip): per
 * user for "feed", "suggestions", "writes", "events", "reads" and "live" (after requireUser), per client IP for "anon". Over the limit
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
