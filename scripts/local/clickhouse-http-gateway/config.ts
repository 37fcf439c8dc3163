/**
 * Typed configuration of the ClickHouse HTTP gateway, read once from the environment. Nothing else
 * in the gateway reads process.env; `readGatewayConfig` names every bad variable at once.
 */
import { resolve } from "node:path";
import { z } from "zod";

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost|::ffff:127(\.\d{1,3}){3})$/i;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host.replace(/^\[|\]$/g, ""));
}

const MIB = 1024 * 1024;

const schema = z.object({
  /** Interface the HTTP server binds to. Default 127.0.0.1. */
  CH_GATEWAY_HOST: z.string().min(1).default("127.0.0.1"),
  /** Port of the HTTP server (ClickHouse's HTTP port); 0 picks a free one. Default 8123. */
  CH_GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(8123),
  /**
   * chDB data directory, kept across restarts. Relative paths resolve against the working
   * directory. chDB allows one data directory per process. Default `.stack/data/chdb`.
   */
  CH_GATEWAY_DATA_DIR: z.string().min(1).default(".stack/data/chdb"),
  /** The one user the gateway knows (like the server's `default` user). Default `default`. */
  CH_GATEWAY_USER: z.string().min(1).default("default"),
  /**
   * That user's password. Default empty, which is refused unless CH_GATEWAY_HOST is loopback.
   */
  CH_GATEWAY_PASSWORD: z.string().default(""),
  /**
   * `1` lets queries reach the host and the network: table functions and engines such as file,
   * url, s3, hdfs, remote, mysql, postgresql, jdbc, odbc, Kafka, and dictionaries. Default `0`:
   * the engine refuses them (ACCESS_DENIED, see access.ts).
   */
  CH_GATEWAY_HOST_ACCESS: z.enum(["0", "1", "false", "true"]).default("0"),
  /** chDB sessions, i.e. queries running at once. Default 4. */
  CH_GATEWAY_SESSIONS: z.coerce.number().int().min(1).max(256).default(4),
  /** Requests allowed to wait for a session; beyond that the gateway answers 503. Default 64. */
  CH_GATEWAY_QUEUE_SIZE: z.coerce.number().int().min(0).max(100_000).default(64),
  /**
   * Longest a query may run (queue wait included); a request's own `max_execution_time` applies
   * when smaller. Default 30000 ms.
   */
  CH_GATEWAY_TIMEOUT_MS: z.coerce.number().int().min(100).max(86_400_000).default(30_000),
  /** Largest request body accepted (INSERT data included); bigger ones get 413. Default 256 MiB. */
  CH_GATEWAY_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(4096 * MIB)
    .default(256 * MIB),
  /** How long SIGTERM waits for in-flight queries before closing. Default 10000 ms. */
  CH_GATEWAY_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  /** pino log level. Default info. */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export interface GatewayConfig {
  host: string;
  port: number;
  /** Absolute path of the chDB data directory. */
  dataDir: string;
  user: string;
  password: string;
  /** Table functions/engines that touch the host or the network are allowed (CH_GATEWAY_HOST_ACCESS). */
  hostAccess: boolean;
  sessions: number;
  queueSize: number;
  timeoutMs: number;
  maxBodyBytes: number;
  shutdownTimeoutMs: number;
  logLevel: z.infer<typeof schema>["LOG_LEVEL"];
}

/** Parses the environment; throws one error naming every bad variable. */
export function readGatewayConfig(
  env: Record<string, string | undefined> = process.env,
  cwd: string = process.cwd(),
): GatewayConfig {
  const parsed = schema.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  if (parsed.success) {
    const e = parsed.data;
    if (e.CH_GATEWAY_PASSWORD === "" && !isLoopbackHost(e.CH_GATEWAY_HOST)) {
      problems.push(
        `CH_GATEWAY_PASSWORD: must be set when CH_GATEWAY_HOST (${e.CH_GATEWAY_HOST}) is not loopback; an empty password would open the database to the network`,
      );
    }
  }
  if (problems.length > 0 || !parsed.success) {
    throw new Error(`invalid clickhouse-gateway configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  return {
    host: e.CH_GATEWAY_HOST,
    port: e.CH_GATEWAY_PORT,
    dataDir: resolve(cwd, e.CH_GATEWAY_DATA_DIR),
    user: e.CH_GATEWAY_USER,
    password: e.CH_GATEWAY_PASSWORD,
    hostAccess: e.CH_GATEWAY_HOST_ACCESS === "1" || e.CH_GATEWAY_HOST_ACCESS === "true",
    sessions: e.CH_GATEWAY_SESSIONS,
    queueSize: e.CH_GATEWAY_QUEUE_SIZE,
    timeoutMs: e.CH_GATEWAY_TIMEOUT_MS,
    maxBodyBytes: e.CH_GATEWAY_MAX_BODY_BYTES,
    shutdownTimeoutMs: e.CH_GATEWAY_SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  };
}
