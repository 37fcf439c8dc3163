/**
 * Where the local stack keeps its files and which ports it uses. Everything runtime lives under
 * `<repo>/.stack/` (gitignored; STACK_STATE_DIR moves it, e.g. for a second stack instance next
 * to the shared one, with its own ports from the *_PORT variables and REDIS_URL); only
 * downloaded jars live outside the work tree, in `${EDGE_FEED_CACHE:-~/.cache/edge-feed}`, so
 * that `git clean` or a fresh checkout does not cost another Maven resolution.
 */
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name}=${raw} is not a TCP port`);
  return n;
}

export interface StackConfig {
  repoRoot: string;
  /** scripts/local/stack: templates and poms. */
  stackDir: string;
  stateDir: string;
  logsDir: string;
  runDir: string;
  dataDir: string;
  cacheDir: string;
  /** Every service binds to this address only. */
  host: string;
  pgAdminUrl: string;
  redisUrl: string;
  /**
   * Where a redis-server the stack starts keeps its AOF when no running Redis has told us its
   * own `dir` yet (see redis.ts). REDIS_DATA_DIR, default <state>/data/redis.
   */
  redisDataDir: string;
  /** `appendfsync` the stack sets: everysec (default; up to ~1 s of writes lost on a crash) or always. */
  redisAppendfsync: "everysec" | "always";
  /**
   * The opt-in local Redis Cluster (redis-cluster.ts): `enabled` (REDIS_CLUSTER=1) makes `up`
   * start it and its bridge; its 3 masters' ports (REDIS_CLUSTER_PORTS, default 7001,7002,7003)
   * and their data under <state>/data/redis-cluster/<port>.
   */
  redisCluster: { enabled: boolean; ports: number[]; dataDir: string };
  ports: {
    kafka: number;
    kafkaController: number;
    connect: number;
    redisBridge: number;
    /** The second bridge, in front of the cluster (REDIS_BRIDGE_CLUSTER_PORT, default 8078). */
    redisBridgeCluster: number;
    chGateway: number;
  };
}

function clusterPorts(env: NodeJS.ProcessEnv): number[] {
  const raw = env.REDIS_CLUSTER_PORTS || "7001,7002,7003";
  const ports = raw.split(",").map((p) => Number(p.trim()));
  if (
    ports.length < 3 ||
    new Set(ports).size !== ports.length ||
    ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)
  ) {
    throw new Error(`REDIS_CLUSTER_PORTS=${raw}: needs at least 3 distinct TCP ports (a cluster needs 3 masters)`);
  }
  return ports;
}

export function readStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const repoRoot = resolve(here, "..", "..", "..");
  const stateDir = env.STACK_STATE_DIR ? resolve(env.STACK_STATE_DIR) : join(repoRoot, ".stack");
  const fsync = env.REDIS_APPENDFSYNC || "everysec";
  if (fsync !== "everysec" && fsync !== "always") {
    throw new Error(`REDIS_APPENDFSYNC=${fsync}: must be everysec or always`);
  }
  return {
    repoRoot,
    stackDir: here,
    stateDir,
    logsDir: join(stateDir, "logs"),
    runDir: join(stateDir, "run"),
    dataDir: join(stateDir, "data"),
    cacheDir: env.EDGE_FEED_CACHE || join(homedir(), ".cache", "edge-feed"),
    host: "127.0.0.1",
    pgAdminUrl: env.PG_ADMIN_URL || "postgres://postgres@127.0.0.1:5432/postgres",
    redisUrl: env.REDIS_URL || "redis://127.0.0.1:6379",
    redisDataDir: env.REDIS_DATA_DIR ? resolve(env.REDIS_DATA_DIR) : join(stateDir, "data", "redis"),
    redisAppendfsync: fsync,
    redisCluster: {
      enabled: env.REDIS_CLUSTER === "1" || env.REDIS_CLUSTER === "true",
      ports: clusterPorts(env),
      dataDir: join(stateDir, "data", "redis-cluster"),
    },
    ports: {
      kafka: port(env, "KAFKA_PORT", 9092),
      kafkaController: port(env, "KAFKA_CONTROLLER_PORT", 9093),
      connect: port(env, "CONNECT_PORT", 8083),
      redisBridge: port(env, "REDIS_BRIDGE_PORT", 8079),
      redisBridgeCluster: port(env, "REDIS_BRIDGE_CLUSTER_PORT", 8078),
      chGateway: port(env, "CH_GATEWAY_PORT", 8123),
    },
  };
}
