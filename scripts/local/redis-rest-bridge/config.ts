/**
 * Typed configuration of the Redis REST bridge, read once from the environment. Nothing else in
 * the bridge reads process.env; `readBridgeConfig` names every missing or bad variable at once.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { DENIED_BY_DEFAULT, isAllowableEntry } from "./commands.ts";

/** Where the ACL user's password lives unless REDIS_BRIDGE_ACL_PASSWORD_FILE says otherwise (gitignored). */
export const DEFAULT_ACL_PASSWORD_FILE = join(
  resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", ".."),
  ".stack",
  "redis-bridge",
  "acl-password",
);

/** Token the bridge accepts when none is configured; only safe while it listens on loopback. */
export const LOCAL_BRIDGE_TOKEN = "local-dev-token";
const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost|::ffff:127(\.\d{1,3}){3})$/i;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host.replace(/^\[|\]$/g, ""));
}

const commandList = z
  .string()
  .default("")
  .transform((s) =>
    s
      .split(",")
      .map((c) => c.trim().toUpperCase())
      .filter(Boolean),
  )
  .superRefine((entries, ctx) => {
    for (const entry of entries) {
      if (!isAllowableEntry(entry)) {
        ctx.addIssue({
          code: "custom",
          message: `${entry} is not a command the bridge denies by default (allowable: ${DENIED_BY_DEFAULT.join(", ")})`,
        });
      }
    }
  });

const schema = z.object({
  /** Redis the bridge fronts (redis:// or rediss://, may carry user, password and db). Default redis://127.0.0.1:6379. */
  REDIS_URL: z
    .string()
    .url()
    .refine((u) => /^rediss?:\/\//.test(u), "must start with redis:// or rediss://")
    .default("redis://127.0.0.1:6379"),
  /**
   * Cluster mode: comma list of a Redis Cluster's seed nodes, `host:port` or
   * `redis://[user:password@]host:port` (the first one's credentials are the admin side for every
   * node), e.g. `127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003`; REDIS_URL is then unused. Empty
   * (default): the single Redis at REDIS_URL. See cluster.ts.
   */
  REDIS_BRIDGE_CLUSTER: z
    .string()
    .default("")
    .transform((s, ctx) => {
      const nodes: string[] = [];
      for (const raw of s
        .split(",")
        .map((n) => n.trim())
        .filter(Boolean)) {
        const url = /^rediss?:\/\//.test(raw) ? raw : `redis://${raw}`;
        try {
          const u = new URL(url);
          if (!u.hostname || !u.port) throw new Error("no port");
          nodes.push(url.replace(/\/$/, ""));
        } catch {
          ctx.addIssue({ code: "custom", message: `${raw} is not host:port or redis://host:port` });
        }
      }
      return nodes;
    }),
  /**
   * Restricted Redis user the bridge's connections run as, created or reset at start with
   * `ACL SETUSER` through REDIS_URL's credentials (see acl.ts): no FLUSHALL, KEYS, INFO, SLOWLOG,
   * CONFIG… even from scripts. Empty: connect as REDIS_URL's user with no ACL of the bridge's
   * own (the deny-list alone; scripts can then run anything). Default `edge-feed-bridge`.
   */
  REDIS_BRIDGE_ACL_USER: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]*$/, "letters, digits and _ . : - only")
    .default("edge-feed-bridge"),
  /**
   * File holding that user's password: created with a random secret (mode 0600) when missing.
   * Default `.stack/redis-bridge/acl-password` in the repo.
   */
  REDIS_BRIDGE_ACL_PASSWORD_FILE: z.string().min(1).default(DEFAULT_ACL_PASSWORD_FILE),
  /** Interface the HTTP server binds to. Default 127.0.0.1. */
  REDIS_BRIDGE_HOST: z.string().min(1).default("127.0.0.1"),
  /** Port of the HTTP server; 0 picks a free one. Default 8079. */
  REDIS_BRIDGE_PORT: z.coerce.number().int().min(0).max(65535).default(8079),
  /**
   * Bearer token clients must send (the client's UPSTASH_REDIS_REST_TOKEN). Default
   * `local-dev-token`, refused unless REDIS_BRIDGE_HOST is a loopback address.
   */
  REDIS_BRIDGE_TOKEN: z.string().min(1).default(LOCAL_BRIDGE_TOKEN),
  /** Largest request body accepted; bigger ones get 413. Default 10 MiB. */
  REDIS_BRIDGE_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(512 * 1024 * 1024)
    .default(10 * 1024 * 1024),
  /**
   * Dedicated Redis connections (transactions, blocking commands, WATCH) open at once; other
   * commands share one pipelined connection. Default 8.
   */
  REDIS_BRIDGE_POOL_SIZE: z.coerce.number().int().min(1).max(1024).default(8),
  /**
   * Comma list of commands denied by default that this bridge should allow, e.g.
   * `FLUSHDB,CONFIG|GET` (`NAME|SUB` allows one subcommand). Default none.
   */
  REDIS_BRIDGE_ALLOW_COMMANDS: commandList,
  /**
   * Longest a request may wait for Redis; blocking commands (BLPOP 0, XREAD BLOCK 0, …) are
   * capped to it. Default 10000 ms.
   */
  REDIS_BRIDGE_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  /** How long SIGTERM waits for in-flight requests before closing them. Default 10000 ms. */
  REDIS_BRIDGE_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  /** pino log level. Default info. */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export interface BridgeConfig {
  redisUrl: string;
  /** Cluster mode's seed node URLs; [] = single Redis at redisUrl. */
  clusterNodes: string[];
  /** ACL user to provision and connect as; "" = REDIS_URL's own user. */
  aclUser: string;
  aclPasswordFile: string;
  host: string;
  port: number;
  token: string;
  maxBodyBytes: number;
  poolSize: number;
  /** Upper-case entries (`FLUSHDB`, `CONFIG|GET`) lifted from the default deny-list. */
  allowCommands: ReadonlySet<string>;
  commandTimeoutMs: number;
  shutdownTimeoutMs: number;
  logLevel: z.infer<typeof schema>["LOG_LEVEL"];
}

/** Parses the environment; throws one error naming every missing or bad variable. */
export function readBridgeConfig(env: Record<string, string | undefined> = process.env): BridgeConfig {
  const parsed = schema.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  if (parsed.success) {
    const e = parsed.data;
    if (e.REDIS_BRIDGE_TOKEN === LOCAL_BRIDGE_TOKEN && !isLoopbackHost(e.REDIS_BRIDGE_HOST)) {
      problems.push(
        `REDIS_BRIDGE_TOKEN: must be set to a secret when REDIS_BRIDGE_HOST (${e.REDIS_BRIDGE_HOST}) is not loopback`,
      );
    }
  }
  if (problems.length > 0 || !parsed.success) {
    throw new Error(`invalid redis-bridge configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  return {
    redisUrl: e.REDIS_URL,
    clusterNodes: e.REDIS_BRIDGE_CLUSTER,
    aclUser: e.REDIS_BRIDGE_ACL_USER,
    aclPasswordFile: resolve(e.REDIS_BRIDGE_ACL_PASSWORD_FILE),
    host: e.REDIS_BRIDGE_HOST,
    port: e.REDIS_BRIDGE_PORT,
    token: e.REDIS_BRIDGE_TOKEN,
    maxBodyBytes: e.REDIS_BRIDGE_MAX_BODY_BYTES,
    poolSize: e.REDIS_BRIDGE_POOL_SIZE,
    allowCommands: new Set(e.REDIS_BRIDGE_ALLOW_COMMANDS),
    commandTimeoutMs: e.REDIS_BRIDGE_COMMAND_TIMEOUT_MS,
    shutdownTimeoutMs: e.REDIS_BRIDGE_SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  };
}
