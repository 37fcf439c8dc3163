/**
 * One namespaced world on the local stack: a PostgreSQL database and a ClickHouse database (both
 * migrated), a Kafka topic namespace with its CDC connector, replication slot and consumer
 * groups, and serving-index namespaces in Redis, every name derived from one, and the cleanup
 * that removes all of it. The benchmark (scripts/bench/run.ts), the fault matrix
 * (scripts/faults/) and the integration tests (test/integration/support/cdc.ts) each make theirs
 * here; topics and the connector are created by whoever runs CDC (the origin, or a test's
 * connector manager), the world only names them and removes them.
 */
import { randomBytes } from "node:crypto";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { migrateClickHouse } from "../../origin/ch/migrate.ts";
import { migrate } from "../../origin/db/migrate.ts";
import { unlinkByPrefix } from "../../origin/src/index/exec.ts";
import { type AnyRedis, clusterFromNodes, scanAll, unlinkKeys } from "../../origin/src/redis-cluster.ts";

/** Superuser connection of the local stack (trust auth on the machine's cluster). */
export const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const CH_URL = `http://127.0.0.1:${process.env.CH_GATEWAY_PORT ?? 8123}`;
export const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const CONNECT_URL = process.env.KAFKA_CONNECT_URL ?? "http://127.0.0.1:8083";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const BRIDGE_URL = `http://127.0.0.1:${process.env.REDIS_BRIDGE_PORT ?? 8079}`;
export const BRIDGE_TOKEN = process.env.REDIS_BRIDGE_TOKEN ?? "local-dev-token";
/**
 * INDEX_REDIS_CLUSTER: seed nodes (`host:port,…`) of a Redis Cluster the index suites run on
 * (scripts/test.sh's cluster stage: the stack's opt-in cluster, 127.0.0.1:7001-7003). Set, tests
 * take their Redis from `testRedis()` on it, worlds give the origin REDIS_CLUSTER_NODES and the
 * worker the cluster-mode bridge (CLUSTER_BRIDGE_URL), and a world's cleanup covers the cluster.
 * Empty (the default): the single Redis at REDIS_URL and the bridge at BRIDGE_URL.
 */
export const REDIS_CLUSTER_NODES = process.env.INDEX_REDIS_CLUSTER ?? "";
/** The stack's cluster-mode Redis REST bridge (same token as BRIDGE_URL's), in front of the opt-in cluster. */
export const CLUSTER_BRIDGE_URL = `http://127.0.0.1:${process.env.REDIS_BRIDGE_CLUSTER_PORT ?? 8078}`;

/**
 * A Redis client for a test: a Cluster on REDIS_CLUSTER_NODES (INDEX_REDIS_CLUSTER) when that is
 * set, else `new Redis(REDIS_URL)`. It connects at once, as `new Redis(REDIS_URL)` does. Code that
 * takes it runs its pipelines through `pipelineOf` and its SCANs through `scanAll`
 * (origin/src/redis-cluster.ts). `blocking`: a client for blocking reads (the relay's XREADGROUP
 * BLOCK), of its own; on a Cluster its commands wait for the cluster instead of failing after one
 * retry (as the origin's `redis({ blocking: true })`); standalone it is `new Redis(REDIS_URL)` too.
 */
export function testRedis(opts: { blocking?: boolean } = {}): AnyRedis {
  return REDIS_CLUSTER_NODES
    ? clusterFromNodes(REDIS_CLUSTER_NODES, { lazyConnect: false, blocking: opts.blocking ?? false })
    : new Redis(REDIS_URL);
}

/** Where a world's services answer. */
export interface Services {
  pgAdminUrl: string;
  chUrl: string;
  kafkaBrokers: string[];
  connectUrl: string;
  redisUrl: string;
  /** The Redis REST bridge the worker talks to. */
  bridgeUrl: string;
  bridgeToken: string;
  /**
   * A Redis Cluster's seed nodes (`host:port,…`) the origin's index runs on (its
   * REDIS_CLUSTER_NODES); unset or empty: the standalone redisUrl.
   */
  redisClusterNodes?: string;
}

/**
 * The shared local stack (`npm run stack:up`), as the environment names it. With
 * INDEX_REDIS_CLUSTER set, the worker talks to the cluster-mode bridge and the origin gets the
 * cluster's seed nodes (REDIS_CLUSTER_NODES); redisUrl stays the single Redis.
 */
export const LOCAL_SERVICES: Services = {
  pgAdminUrl: PG_ADMIN_URL,
  chUrl: CH_URL,
  kafkaBrokers: KAFKA_BROKERS,
  connectUrl: CONNECT_URL,
  redisUrl: REDIS_URL,
  bridgeUrl: REDIS_CLUSTER_NODES ? CLUSTER_BRIDGE_URL : BRIDGE_URL,
  bridgeToken: BRIDGE_TOKEN,
  ...(REDIS_CLUSTER_NODES ? { redisClusterNodes: REDIS_CLUSTER_NODES } : {}),
};

/** The names of everything a world holds. */
export interface WorldNames {
  /** PostgreSQL database. */
  database: string;
  chDatabase: string;
  /** Prefix of every Kafka topic (KAFKA_TOPIC_NAMESPACE). */
  topicNamespace: string;
  connector: string;
  slot: string;
  /** Debezium's topic.prefix (CDC_TOPIC_PREFIX). */
  topicPrefix: string;
  sinkGroup: string;
  indexGroup: string;
  /** The serving index's INDEX_NAMESPACE. */
  indexNamespace: string;
}

/**
 * Everything named after `name`: both databases and the slot `name`, topics `name.`, connector
 * `name` with dashes for underscores, groups `name-sink` and `name-index`, index namespace `name:`.
 */
export function worldNames(name: string, overrides: Partial<WorldNames> = {}): WorldNames {
  return {
    database: name,
    chDatabase: name,
    topicNamespace: `${name}.`,
    connector: name.replaceAll("_", "-"),
    slot: name,
    topicPrefix: name,
    sinkGroup: `${name}-sink`,
    indexGroup: `${name}-index`,
    indexNamespace: `${name}:`,
    ...overrides,
  };
}

export interface WorldSpec {
  names: WorldNames;
  /** Default LOCAL_SERVICES. */
  services?: Services;
  /**
   * Who owns the PostgreSQL database and connects to it: "app", the role the origin runs as
   * (feed_app, created by the stack), or "admin", the superuser of pgAdminUrl. Default "app".
   */
  owner?: "app" | "admin";
  /** PostgreSQL connections of `pool`. Default 4. */
  poolSize?: number;
  /** request_timeout of `ch`, ms. Default the client's (30 s). */
  chRequestTimeoutMs?: number;
  /** More serving-index namespaces the cleanup removes (e.g. one an edge reads but nothing writes). */
  extraIndexNamespaces?: string[];
}

export interface World {
  names: WorldNames;
  services: Services;
  databaseUrl: string;
  pool: pg.Pool;
  /** The world's ClickHouse database. */
  ch: ClickHouseClient;
  /** The origin's environment for this world (see worldEnv). */
  env: Record<string, string>;
  /** Ends the pool and the ClickHouse client; the world stays. */
  close(): Promise<void>;
  /** close(), then dropWorld(). */
  drop(): Promise<void>;
}

const APP_ROLE = "feed_app";

/** The URL of `database` for `owner`, on the server of pgAdminUrl. */
function databaseUrl(pgAdminUrl: string, database: string, owner: "app" | "admin" = "app"): string {
  const url = new URL(pgAdminUrl);
  if (owner === "app") {
    url.username = APP_ROLE;
    url.password = APP_ROLE;
  }
  url.pathname = `/${database}`;
  return url.toString();
}

/** What the origin reads (origin/src/config.ts) to run on this world. */
export function worldEnv(spec: WorldSpec): Record<string, string> {
  const { names } = spec;
  const s = spec.services ?? LOCAL_SERVICES;
  return {
    DATABASE_URL: databaseUrl(s.pgAdminUrl, names.database, spec.owner),
    CLICKHOUSE_URL: s.chUrl,
    CLICKHOUSE_DATABASE: names.chDatabase,
    KAFKA_BROKERS: s.kafkaBrokers.join(","),
    KAFKA_CONNECT_URL: s.connectUrl,
    KAFKA_TOPIC_NAMESPACE: names.topicNamespace,
    CDC_CONNECTOR_NAME: names.connector,
    CDC_SLOT_NAME: names.slot,
    CDC_TOPIC_PREFIX: names.topicPrefix,
    SINK_GROUP_ID: names.sinkGroup,
    INDEX_GROUP_ID: names.indexGroup,
    INDEX_NAMESPACE: names.indexNamespace,
    REDIS_URL: s.redisUrl,
    ...(s.redisClusterNodes ? { REDIS_CLUSTER_NODES: s.redisClusterNodes } : {}),
  };
}

/** The worker's variables on a world: Redis through the bridge, its ClickHouse database and index, an origin. */
export function workerVars(
  spec: WorldSpec,
  o: { jwtSecret: string; originUrl: string; originSecret: string },
): Record<string, string> {
  const s = spec.services ?? LOCAL_SERVICES;
  return {
    JWT_SECRET: o.jwtSecret,
    ORIGIN_SHARED_SECRET: o.originSecret,
    ORIGIN_URL: o.originUrl,
    UPSTASH_REDIS_REST_URL: s.bridgeUrl,
    UPSTASH_REDIS_REST_TOKEN: s.bridgeToken,
    CLICKHOUSE_URL: s.chUrl,
    CLICKHOUSE_DATABASE: spec.names.chDatabase,
    INDEX_NAMESPACE: spec.names.indexNamespace,
  };
}

/** Creates both databases and migrates them; on a failure removes what it made. */
export async function createWorld(spec: WorldSpec): Promise<World> {
  const { names } = spec;
  const services = spec.services ?? LOCAL_SERVICES;
  const owner = spec.owner ?? "app";
  const env = worldEnv(spec);
  await withAdmin(services.pgAdminUrl, (c) =>
    c.query(`CREATE DATABASE ${names.database}${owner === "app" ? ` OWNER ${APP_ROLE}` : ""}`),
  );
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: spec.poolSize ?? 4 });
  const ch = createClient({
    url: services.chUrl,
    database: names.chDatabase,
    ...(spec.chRequestTimeoutMs ? { request_timeout: spec.chRequestTimeoutMs } : {}),
  });
  const close = async () => {
    await pool.end().catch(() => {});
    await ch.close().catch(() => {});
  };
  try {
    const c = await pool.connect();
    try {
      await migrate(c);
    } finally {
      c.release();
    }
    const chAdmin = createClient({ url: services.chUrl });
    try {
      await migrateClickHouse(chAdmin, ch, names.chDatabase);
    } finally {
      await chAdmin.close();
    }
  } catch (err) {
    await close();
    await dropWorld(spec).catch(() => {});
    throw err;
  }
  return {
    names,
    services,
    databaseUrl: env.DATABASE_URL as string,
    pool,
    ch,
    env,
    close,
    async drop() {
      await close();
      await dropWorld(spec);
    },
  };
}

/**
 * Removes everything named by `spec`, whether a world of that name exists or not: every
 * connector reading its database, the slot, the topics of its namespace, its consumer groups,
 * both databases and its index namespaces. Each step runs; it throws at the end only if the slot
 * or the PostgreSQL database is still there (they pin WAL and disk), the rest is best effort.
 */
export async function dropWorld(spec: WorldSpec): Promise<void> {
  const { names } = spec;
  const s = spec.services ?? LOCAL_SERVICES;
  await removeConnectors(s.connectUrl, names.database).catch(() => {});
  const problems: string[] = [];
  await dropSlot(s.pgAdminUrl, names.slot).catch((err: Error) => problems.push(err.message));
  await dropTopicsAndGroups(s.kafkaBrokers, names).catch(() => {});
  const ch = createClient({ url: s.chUrl });
  await ch.command({ query: `DROP DATABASE IF EXISTS ${names.chDatabase}` }).catch(() => {});
  await ch.close();
  await withAdmin(s.pgAdminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${names.database} WITH (FORCE)`)).catch(
    (err: Error) => problems.push(`database ${names.database}: ${err.message}`),
  );
  await dropIndexNamespaces(s, [names.indexNamespace, ...(spec.extraIndexNamespaces ?? [])]);
  if (problems.length) throw new Error(`world ${names.database} not fully removed: ${problems.join("; ")}`);
}

/** A superuser client of the stack's PostgreSQL; fails with how to start it. */
async function adminClient(pgAdminUrl = PG_ADMIN_URL): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: pgAdminUrl });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${pgAdminUrl}; run \`npm run stack:up\` first`, { cause: err });
  }
  return client;
}

async function withAdmin<T>(pgAdminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await adminClient(pgAdminUrl);
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * A throwaway database name as `npm run stack:down` recognises leftovers: `t_<prefix>_<12 hex>`.
 */
export function tempDatabaseName(prefix = "db"): string {
  return `t_${prefix}_${randomBytes(6).toString("hex")}`;
}

/**
 * Creates a uniquely named empty database (tempDatabaseName), owned by the superuser; `drop()`
 * removes it, and `npm run stack:down` removes any a killed run left behind.
 */
export async function tempDatabase(prefix = "db"): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = tempDatabaseName(prefix);
  await withAdmin(PG_ADMIN_URL, (c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: databaseUrl(PG_ADMIN_URL, name, "admin"),
    drop: () => withAdmin(PG_ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

/** Drops a replication slot once its connector has let go of it (within 30 s). */
async function dropSlot(pgAdminUrl: string, slot: string): Promise<void> {
  await withAdmin(pgAdminUrl, async (c) => {
    for (let i = 0; i < 60; i++) {
      const { rows } = await c.query<{ active: boolean }>(
        "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
        [slot],
      );
      if (rows.length === 0) return;
      if (!rows[0]?.active) {
        await c.query("SELECT pg_drop_replication_slot($1)", [slot]);
        return;
      }
      await sleep(500);
    }
    throw new Error(`replication slot ${slot} still active after 30 s`);
  });
}

/**
 * Every connector whose database is `database` (a run that stopped early may leave one): stopped,
 * its offsets deleted (Kafka Connect keeps a deleted connector's offsets, which would point a new
 * connector of the same name at WAL of a dropped slot), then deleted.
 */
async function removeConnectors(connectUrl: string, database: string): Promise<void> {
  const call = (method: string, path: string) =>
    fetch(`${connectUrl}${path}`, { method, signal: AbortSignal.timeout(10_000) }).catch(() => null);
  const res = await call("GET", "/connectors?expand=info");
  if (!res?.ok) return;
  const all = (await res.json()) as Record<string, { info: { config: Record<string, string> } }>;
  for (const [name, c] of Object.entries(all)) {
    if (c.info.config["database.dbname"] !== database) continue;
    const base = `/connectors/${encodeURIComponent(name)}`;
    const stopped = await call("PUT", `${base}/stop`);
    if (!stopped || stopped.status === 404) continue;
    for (let i = 0; i < 60; i++) {
      const st = await call("GET", `${base}/status`);
      if (st?.ok && ((await st.json()) as { connector: { state: string } }).connector.state === "STOPPED") break;
      await sleep(500);
    }
    await (await call("DELETE", `${base}/offsets`))?.body?.cancel();
    await (await call("DELETE", base))?.body?.cancel();
  }
}

async function dropTopicsAndGroups(brokers: string[], names: WorldNames): Promise<void> {
  const kafka = new Kafka({
    clientId: `drop-${names.database}`,
    brokers,
    connectionTimeout: 3000,
    retry: { retries: 2 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Debezium's heartbeats go to a topic of its own, named after the topic prefix.
    const heartbeat = `__debezium-heartbeat.${names.topicPrefix}`;
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(names.topicNamespace) || t === heartbeat);
    if (topics.length) await admin.deleteTopics({ topics }).catch(() => {});
    // The sink's and the index's groups, and those named after them (the origin's experiments
    // projection is `<index group>-experiments`).
    const ours = (g: string) => [names.sinkGroup, names.indexGroup].some((n) => g === n || g.startsWith(`${n}-`));
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter(ours);
    if (groups.length) await admin.deleteGroups(groups).catch(() => {});
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Deletes every key under each namespace, on the single Redis and, when the services name one, on
 * the Redis Cluster (every master); a Redis that does not answer is left alone.
 */
async function dropIndexNamespaces(s: Services, namespaces: string[]): Promise<void> {
  const clients: AnyRedis[] = [
    new Redis(s.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null }),
  ];
  if (s.redisClusterNodes) {
    clients.push(clusterFromNodes(s.redisClusterNodes, { clusterRetryStrategy: () => null }));
  }
  for (const redis of clients) {
    redis.on("error", () => {});
    try {
      await redis.connect();
      for (const ns of namespaces) await unlinkByPrefix(redis, ns);
    } catch {
      // not reachable: nothing of ours to remove there (a fault run's own Redis goes with its state)
    } finally {
      redis.disconnect();
    }
  }
}

/**
 * Deletes every key matching `pattern` (SCAN, not KEYS): on a Cluster SCAN of every master and
 * one UNLINK per slot.
 */
export async function dropKeys(redis: AnyRedis, pattern: string): Promise<void> {
  for await (const found of scanAll(redis, pattern, 1000)) await unlinkKeys(redis, found);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
