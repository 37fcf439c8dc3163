/** The worker's bindings (wrangler.toml vars and secrets). Typed once, here. */
export interface Env {
  /** Base URL of the origin write API. Default (wrangler.toml): http://127.0.0.1:8788. */
  ORIGIN_URL: string;
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
  /** Per-call timeout to Redis, ms. Default 300. */
  REDIS_TIMEOUT_MS?: string;
  /** Per-query timeout to ClickHouse, ms. Default 1500. */
  CLICKHOUSE_TIMEOUT_MS?: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: { requestId: string };
}
