import type { PublishMessage } from "#core/live/protocol.ts";

/**
 * The worker's bindings (wrangler.toml vars and secrets). Typed once, here, and read only by
 * config.ts (readEdgeConfig), which validates them; defaults below are applied there.
 */

/** A Workers Rate Limiting binding (`env.X.limit({ key })`). */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/**
 * The live channel's Durable Object namespace (wrangler.toml `[[durable_objects.bindings]]`
 * LIVE, class LiveChannel in edge/src/live/channel.ts), typed by what the worker calls, so
 * nothing here needs the workers' own types (the unit tests typecheck this file under Node).
 */
export interface LiveNamespace {
  idFromName(name: string): unknown;
  get(id: never): LiveStub;
}
export interface LiveStub {
  fetch(request: Request): Promise<Response>;
  publish(messages: PublishMessage[]): Promise<{ connections: number }>;
}

export interface Env {
  /** Base URL of the origin write API. Default (wrangler.toml): http://127.0.0.1:8788. */
  ORIGIN_URL: string;
  /** Secret: HMAC key shared with the origin; signs forwarded writes. */
  ORIGIN_SHARED_SECRET?: string;
  /** Timeout of a forwarded write, ms. Default 3000. */
  ORIGIN_TIMEOUT_MS?: string;
  /** Upstash (or local bridge) REST URL. Default (wrangler.toml): http://127.0.0.1:8079. */
  UPSTASH_REDIS_REST_URL: string;
  /** Secret: the REST token. Local default in .dev.vars.example. */
  UPSTASH_REDIS_REST_TOKEN: string;
  /** ClickHouse HTTP URL. Default (wrangler.toml): http://127.0.0.1:8123 (the chDB gateway). */
  CLICKHOUSE_URL: string;
  /** ClickHouse user. Default: default. */
  CLICKHOUSE_USER?: string;
  /** Secret: ClickHouse password. Default empty (local gateway only). */
  CLICKHOUSE_PASSWORD?: string;
  /** ClickHouse database. Default (wrangler.toml): feed. */
  CLICKHOUSE_DATABASE?: string;
  /** Secret: HS256 key for user tokens (at least 32 characters). */
  JWT_SECRET?: string;
  /** Verify RS256/ES256 tokens against this JWKS URL instead of JWT_SECRET. */
  JWT_JWKS_URL?: string;
  /** Required `iss` claim, if set. */
  JWT_ISSUER?: string;
  /** Required `aud` claim, if set. */
  JWT_AUDIENCE?: string;
  /** Longest token lifetime accepted, seconds (`exp` − now, and `exp` − `iat`). Default 86400 (24 h). */
  JWT_MAX_TTL_S?: string;
  /** Comma-separated allowed CORS origins, or "*". Default "*". */
  CORS_ORIGINS?: string;
  /** Redis stream accepted events are appended to. Default events:ingest (the relay's RELAY_STREAM). */
  EVENTS_STREAM?: string;
  /** Ranking weights (defaults 0.30 / 0.40 / 0.30). */
  RANK_WEIGHT_FRESHNESS?: string;
  RANK_WEIGHT_ENGAGEMENT?: string;
  RANK_WEIGHT_AFFINITY?: string;
  /** Prefix of every serving-index key (the origin's INDEX_NAMESPACE). Default "". */
  INDEX_NAMESPACE?: string;
  /** Rate Limiting bindings (wrangler.toml `[[ratelimits]]`): the feed (and post stats) per user. */
  RATE_LIMIT_FEED?: RateLimitBinding;
  /** Suggested users per user. */
  RATE_LIMIT_SUGGESTIONS?: RateLimitBinding;
  /** Forwarded writes per user. */
  RATE_LIMIT_WRITES?: RateLimitBinding;
  /** Anonymous routes (trending) per client IP. */
  RATE_LIMIT_ANON?: RateLimitBinding;
  /** Event intake per user. */
  RATE_LIMIT_EVENTS?: RateLimitBinding;
  /** The read side (profiles, author posts, posts, threads, follower lists) per user. */
  RATE_LIMIT_READS?: RateLimitBinding;
  /** Live-channel upgrades per user. */
  RATE_LIMIT_LIVE?: RateLimitBinding;
  /** The live channel's Durable Objects, one per user. Absent: GET /api/v1/live answers 503. */
  LIVE?: LiveNamespace;
  /** Per-call timeout to Redis, ms. Default 300. */
  REDIS_TIMEOUT_MS?: string;
  /** Per-query timeout to ClickHouse, ms. Default 1500. */
  CLICKHOUSE_TIMEOUT_MS?: string;
  /** Serve the feed explorer page at /explore: "1"/"true" on; default off (404). `npm run dev` turns it on. */
  EXPLORER_ENABLED?: string;
}
