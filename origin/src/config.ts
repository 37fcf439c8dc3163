/**
 * The origin's typed configuration, read once from the environment. Nothing else in the
 * origin reads process.env: parts receive the slice of config they need.
 */
import { z } from "zod";

const schema = z.object({
  /** Interface the origin HTTP server binds to. Default 127.0.0.1. */
  ORIGIN_HOST: z.string().min(1).default("127.0.0.1"),
  /** Port of the origin HTTP server. Default 8788. */
  ORIGIN_PORT: z.coerce.number().int().min(1).max(65535).default(8788),
  /** pino log level. Default info. */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** PostgreSQL connection of the app role. Default postgres://feed_app:feed_app@127.0.0.1:5432/feed. */
  DATABASE_URL: z.string().url().default("postgres://feed_app:feed_app@127.0.0.1:5432/feed"),
  /** ClickHouse HTTP URL (a real server, ClickHouse Cloud or the local chDB gateway). Default http://127.0.0.1:8123. */
  CLICKHOUSE_URL: z.string().url().default("http://127.0.0.1:8123"),
  /** ClickHouse user. Default default. */
  CLICKHOUSE_USER: z.string().min(1).default("default"),
  /** ClickHouse password. Default empty (local gateway). */
  CLICKHOUSE_PASSWORD: z.string().default(""),
  /** ClickHouse database holding the project's tables. Default feed. */
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a plain identifier")
    .default("feed"),
  /** How long SIGTERM waits for in-flight work before exiting. Default 10000 ms. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
});

export type OriginConfig = {
  host: string;
  port: number;
  logLevel: z.infer<typeof schema>["LOG_LEVEL"];
  shutdownTimeoutMs: number;
  databaseUrl: string;
  clickhouse: { url: string; username: string; password: string; database: string };
};

/** Parses the environment; throws one error naming every missing or bad variable. */
export function readConfig(env: Record<string, string | undefined> = process.env): OriginConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`invalid origin configuration: ${problems}`);
  }
  const e = parsed.data;
  return {
    host: e.ORIGIN_HOST,
    port: e.ORIGIN_PORT,
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    databaseUrl: e.DATABASE_URL,
    clickhouse: {
      url: e.CLICKHOUSE_URL,
      username: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      database: e.CLICKHOUSE_DATABASE,
    },
  };
}
