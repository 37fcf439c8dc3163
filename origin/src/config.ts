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
  /** How long SIGTERM waits for in-flight work before exiting. Default 10000 ms. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
});

export type OriginConfig = {
  host: string;
  port: number;
  logLevel: z.infer<typeof schema>["LOG_LEVEL"];
  shutdownTimeoutMs: number;
  databaseUrl: string;
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
  };
}
