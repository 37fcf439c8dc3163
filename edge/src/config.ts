/**
 * The edge's typed configuration, read from the worker's bindings once per isolate. Nothing
 * else in edge/src reads `env`: the appContext middleware (middleware.ts) puts this and the
 * clients built from it on the request context, and handlers take what they need from there.
 *
 * What a bad configuration does: any variable that is set but malformed, or a required one
 * that is missing, makes every request (health check included) answer 500 in the error
 * envelope, `{"error":{"code":"internal","message":"invalid edge configuration: NAME: why; …"}}`,
 * naming each bad variable (never its value), and the problems are logged once per isolate.
 * A broken deployment fails loudly at its first request instead of limping along: no silent
 * fallback to a default, no 500 that only some routes show. The two optional capabilities
 * stay optional: without JWT_SECRET/JWT_JWKS_URL the authenticated routes answer 500 "not
 * configured", and without ORIGIN_SHARED_SECRET the write routes do; everything else works.
 * An empty variable counts as unset (its default applies).
 */
import { z } from "zod";
import { ApiError } from "#core/errors.ts";
import { EVENTS_STREAM_KEY } from "#core/keys.ts";
import type { RankingOptions } from "#core/ranking/rank.ts";
import { parseWeights } from "#core/ranking/score.ts";
import type { Env, LiveNamespace, RateLimitBinding } from "./bindings.ts";

export interface RedisConfig {
  url: string;
  token: string;
  timeoutMs: number;
}

export interface ClickHouseConfig {
  url: string;
  username: string;
  password: string;
  database: string;
  timeoutMs: number;
}

/** How user tokens are verified: against a JWKS URL (RS256/ES256) if set, else an HS256 secret. */
export interface AuthConfig {
  /** Tokens living longer than this (exp − now, or exp − iat), in seconds, are refused. */
  maxTtlS: number;
  jwtSecret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

export interface EdgeConfig {
  origin: { url: string; sharedSecret?: string; timeoutMs: number };
  redis: RedisConfig;
  clickhouse: ClickHouseConfig;
  auth: AuthConfig;
  /** "*" or the allowed origins. */
  corsOrigins: "*" | string[];
  events: { stream: string };
  ranking: RankingOptions;
  /** Rate Limiting bindings; an absent one lets requests through (logged). */
  rateLimits: {
    feed?: RateLimitBinding;
    suggestions?: RateLimitBinding;
    writes?: RateLimitBinding;
    anon?: RateLimitBinding;
    events?: RateLimitBinding;
    reads?: RateLimitBinding;
    live?: RateLimitBinding;
  };
  /** The live channel's Durable Object namespace; absent = the channel answers 503. */
  live?: LiveNamespace;
  /** The serving index's key namespace (indexKeys); "" in production. */
  index: { namespace: string };
  /** The feed explorer page (/explore) is served; absent = off (EXPLORER_ENABLED). */
  explorerEnabled?: true;
}

const unsetIfEmpty = (v: unknown) => (v === "" ? undefined : v);
/** A variable: "" is unset, so the schema's default (or "is not set") applies. */
const variable = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfEmpty, schema);
const problem = (why: string) => ({
  error: (issue: { input: unknown }) => (issue.input === undefined ? "is not set" : why),
});

const httpUrl = () => z.url({ protocol: /^https?$/, ...problem("must be an http(s) URL") });
const text = () => z.string(problem("must be text")).min(1);
const positiveInt = (fallback: number) => {
  const why = problem("must be a positive integer");
  return z.coerce.number(why).int(why).positive(why).default(fallback);
};
const weight = () => {
  const why = problem("must be a non-negative number");
  return z.coerce.number(why).finite(why).min(0, why).optional();
};

/** A binding, not a variable: anything with a limit() method, or absent. */
const rateLimitBinding = () =>
  z
    .custom<RateLimitBinding>(
      (v) => typeof (v as { limit?: unknown } | null)?.limit === "function",
      "must be a Rate Limiting binding ([[ratelimits]] in wrangler.toml)",
    )
    .optional();

export const schema = z.object({
  ORIGIN_URL: variable(httpUrl()),
  ORIGIN_SHARED_SECRET: variable(text().optional()),
  ORIGIN_TIMEOUT_MS: variable(positiveInt(3000)),
  UPSTASH_REDIS_REST_URL: variable(httpUrl()),
  UPSTASH_REDIS_REST_TOKEN: variable(text()),
  REDIS_TIMEOUT_MS: variable(positiveInt(300)),
  CLICKHOUSE_URL: variable(httpUrl()),
  CLICKHOUSE_USER: variable(text().default("default")),
  CLICKHOUSE_PASSWORD: variable(z.string().default("")),
  CLICKHOUSE_DATABASE: variable(
    z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a plain identifier")
      .default("feed"),
  ),
  CLICKHOUSE_TIMEOUT_MS: variable(positiveInt(1500)),
  JWT_SECRET: variable(z.string().min(32, "must be at least 32 characters").optional()),
  JWT_JWKS_URL: variable(httpUrl().optional()),
  JWT_ISSUER: variable(text().optional()),
  JWT_AUDIENCE: variable(text().optional()),
  JWT_MAX_TTL_S: variable(positiveInt(86_400)),
  CORS_ORIGINS: variable(text().default("*")),
  EVENTS_STREAM: variable(text().default(EVENTS_STREAM_KEY)),
  RATE_LIMIT_FEED: rateLimitBinding(),
  RATE_LIMIT_SUGGESTIONS: rateLimitBinding(),
  RATE_LIMIT_WRITES: rateLimitBinding(),
  RATE_LIMIT_ANON: rateLimitBinding(),
  RATE_LIMIT_EVENTS: rateLimitBinding(),
  RATE_LIMIT_READS: rateLimitBinding(),
  RATE_LIMIT_LIVE: rateLimitBinding(),
  LIVE: z
    .custom<LiveNamespace>(
      (v) => typeof (v as { idFromName?: unknown } | null)?.idFromName === "function",
      "must be a Durable Object namespace ([[durable_objects.bindings]] in wrangler.toml)",
    )
    .optional(),
  RANK_WEIGHT_FRESHNESS: variable(weight()),
  RANK_WEIGHT_ENGAGEMENT: variable(weight()),
  RANK_WEIGHT_AFFINITY: variable(weight()),
  INDEX_NAMESPACE: variable(
    z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{0,64}$/, "must be up to 64 letters, digits or _.:-")
      .default(""),
  ),
  EXPLORER_ENABLED: variable(
    z
      .enum(["0", "1", "true", "false"], problem("must be 0, 1, true or false"))
      .default("0")
      .transform((v) => v === "1" || v === "true"),
  ),
});

/** Every binding of Env has a schema entry: one added to Env alone fails the typecheck here. */
const everyBindingRead: Exclude<keyof Env, keyof z.input<typeof schema>> extends never ? true : never = true;
void everyBindingRead;

/** Parses the bindings; throws one 500 ApiError naming every bad variable. Not cached: see readEdgeConfig. */
export function parseEdgeConfig(env: Partial<Record<keyof Env, unknown>>): EdgeConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join(".")}: ${i.message}`);
    throw new ApiError("internal", `invalid edge configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  const cors = e.CORS_ORIGINS.trim();
  return {
    origin: { url: e.ORIGIN_URL, sharedSecret: e.ORIGIN_SHARED_SECRET, timeoutMs: e.ORIGIN_TIMEOUT_MS },
    redis: { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN, timeoutMs: e.REDIS_TIMEOUT_MS },
    clickhouse: {
      url: e.CLICKHOUSE_URL,
      username: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      database: e.CLICKHOUSE_DATABASE,
      timeoutMs: e.CLICKHOUSE_TIMEOUT_MS,
    },
    auth: {
      maxTtlS: e.JWT_MAX_TTL_S,
      jwtSecret: e.JWT_SECRET,
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
    },
    corsOrigins:
      cors === "*"
        ? "*"
        : cors
            .split(",")
            .map((o) => o.trim())
            .filter(Boolean),
    events: { stream: e.EVENTS_STREAM },
    index: { namespace: e.INDEX_NAMESPACE },
    ...(e.EXPLORER_ENABLED ? { explorerEnabled: true as const } : {}),
    rateLimits: {
      feed: e.RATE_LIMIT_FEED,
      suggestions: e.RATE_LIMIT_SUGGESTIONS,
      writes: e.RATE_LIMIT_WRITES,
      anon: e.RATE_LIMIT_ANON,
      events: e.RATE_LIMIT_EVENTS,
      reads: e.RATE_LIMIT_READS,
      live: e.RATE_LIMIT_LIVE,
    },
    ...(e.LIVE ? { live: e.LIVE } : {}),
    // The schema already refused bad weights; parseWeights owns the defaults.
    ranking: {
      weights: parseWeights({
        freshness: e.RANK_WEIGHT_FRESHNESS,
        engagement: e.RANK_WEIGHT_ENGAGEMENT,
        affinity: e.RANK_WEIGHT_AFFINITY,
      }),
    },
  };
}

/**
 * Outcome per bindings object. workerd hands every request of an isolate the same `env`, so
 * this parses (and, when bad, logs) once per isolate; a new `env` (a test's) gets its own entry.
 */
const outcomes = new WeakMap<object, EdgeConfig | ApiError>();

/** The configuration of these bindings, validated once per isolate; throws the 500 ApiError when bad. */
export function readEdgeConfig(env: Env): EdgeConfig {
  let outcome = outcomes.get(env);
  if (outcome === undefined) {
    try {
      outcome = parseEdgeConfig(env);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      outcome = err;
      console.error(JSON.stringify({ level: "error", msg: "invalid edge configuration", error: err.message }));
    }
    outcomes.set(env, outcome);
  }
  if (outcome instanceof ApiError) throw outcome;
  return outcome;
}
