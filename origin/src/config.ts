/**
 * The origin's typed configuration, read once from the environment. Nothing else in the
 * origin reads process.env: parts receive the slice of config they need.
 */
import { z } from "zod";
import { EVENTS_STREAM_KEY } from "#core/keys.ts";
import { parseClusterNodes } from "./redis-cluster.ts";

/** Local-development default of ORIGIN_SHARED_SECRET (also in .dev.vars.example). */
const LOCAL_ORIGIN_SECRET = "local-dev-origin-secret-0123456789";
/** Local-development default of OPERATOR_TOKEN (refused, like the secret above, off loopback). */
const LOCAL_OPERATOR_TOKEN = "local-dev-operator-token-0123456789";
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
/** KAFKA_TOPIC_PARTITIONS's default (also of the experiments projection's own topics). */
export const DEFAULT_TOPIC_PARTITIONS = 12;

export const schema = z.object({
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
  /** Kafka bootstrap brokers, comma separated. Default 127.0.0.1:9092. */
  KAFKA_BROKERS: z.string().min(1).default("127.0.0.1:9092"),
  /**
   * Partitions of the topics the origin creates when missing (cdc.*, events). Default 12: room
   * for up to 12 consumer processes per group. An existing topic keeps its count (more would move
   * keys to other partitions: docs/delivery-and-faults.md, "Partitions and keys"); one with fewer
   * is named in a warning at start.
   */
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(DEFAULT_TOPIC_PARTITIONS),
  /**
   * Partitions a consumer part (the sink, the index updater, the notifications) works on at once
   * in one process (kafkajs partitionsConsumedConcurrently); each partition stays in order.
   * Default 6.
   */
  KAFKA_PARTITIONS_CONCURRENTLY: z.coerce.number().int().min(1).max(1000).default(6),
  /** Replication factor of those topics. Default 1 (single local broker). */
  KAFKA_TOPIC_REPLICATION: z.coerce.number().int().min(1).max(10).default(1),
  /**
   * Prefix for every topic name (cdc.*, events), e.g. "staging." to share a cluster. Tests use
   * it to own their topics. Default "" (the contract's names).
   */
  KAFKA_TOPIC_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/)
    .default(""),
  /**
   * Consumer group session timeout (ms): how long a killed consumer holds its partitions before
   * a restarted or surviving one gets them (the recovery time of a consumer part). Default 6000,
   * the least a broker accepts by default (group.min.session.timeout.ms); lower only on brokers
   * configured to allow it (the local stack allows 1000). Shorter means faster recovery and more
   * spurious rebalances (a member silent for that long, e.g. a blocked event loop, is taken for
   * dead: its batch is redelivered, which the idempotent writes absorb). Heartbeats go every
   * third of it, at most every second.
   */
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(1000).max(300_000).default(6000),
  /** Kafka Connect REST URL. Default http://127.0.0.1:8083. */
  KAFKA_CONNECT_URL: z.string().url().default("http://127.0.0.1:8083"),
  /** Name of the Debezium connector on Kafka Connect. Default feed-postgres. */
  CDC_CONNECTOR_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .default("feed-postgres"),
  /** PostgreSQL role Debezium logs in as (LOGIN REPLICATION). Default feed_cdc. */
  CDC_DB_USER: z.string().min(1).default("feed_cdc"),
  /** Its password. Default feed_cdc (local stack only). */
  CDC_DB_PASSWORD: z.string().default("feed_cdc"),
  /** PostgreSQL host and port as Kafka Connect reaches them. Default: those of DATABASE_URL. */
  CDC_DB_HOST: z.string().optional(),
  CDC_DB_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** Replication slot name. Default feed_cdc_slot. */
  CDC_SLOT_NAME: z
    .string()
    .regex(/^[a-z0-9_]+$/)
    .default("feed_cdc_slot"),
  /** Publication created by migration 0001. Default feed_cdc. */
  CDC_PUBLICATION: z
    .string()
    .regex(/^[a-z0-9_]+$/)
    .default("feed_cdc"),
  /**
   * Debezium snapshot.mode: initial (copy existing rows, then stream; default) or no_data
   * (stream from now on; for a database whose rows were bulk-loaded into ClickHouse directly).
   */
  CDC_SNAPSHOT_MODE: z.enum(["initial", "no_data", "when_needed"]).default("initial"),
  /** Debezium topic prefix (topics are then routed to cdc.<table>). Default feed. */
  CDC_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default("feed"),
  /** How often the connector watcher checks the connector's status. Default 10000 ms. */
  CDC_WATCH_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
  /** How long the origin waits at start for PostgreSQL, Kafka and Connect. Default 60000 ms. */
  STARTUP_TIMEOUT_MS: z.coerce.number().int().min(0).default(60_000),
  /**
   * Which long-running parts this process runs, comma separated, from: http, connector, sink,
   * index (the serving index: bootstrap and updater), notifications (likes, comments and follows
   * into each user's notification groups), relay, jobs (the generators). Default all of them.
   * (Several origins may run side by side; the sink, the index, the notifications and the relay
   * share work through consumer groups.)
   */
  ORIGIN_PARTS: z
    .string()
    .default("http,connector,sink,index,notifications,relay,jobs")
    .transform((s) =>
      s
        .split(",")
        .map((p) => p.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(["http", "connector", "sink", "index", "notifications", "relay", "jobs"]))),
  /** Prefix of every serving-index key (the edge's INDEX_NAMESPACE). Default "". */
  INDEX_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{0,64}$/, "must be up to 64 letters, digits or _.:-")
    .default(""),
  /** The index updater's consumer group. Default serving-index. */
  INDEX_GROUP_ID: z.string().min(1).default("serving-index"),
  /** How often affinity in the index is refreshed from ClickHouse. Default 600000 ms. */
  AFFINITY_REFRESH_INTERVAL_MS: z.coerce.number().int().min(1000).default(600_000),
  /**
   * How often the index's post counters are compared with ClickHouse's and repaired (a repair
   * is counted in origin_index_repairs_total). Default 300000 ms.
   */
  INDEX_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(1000).default(300_000),
  /** HotPostGenerator interval. Default 60000 ms. */
  HOT_POSTS_INTERVAL_MS: z.coerce.number().int().min(1000).default(60_000),
  /** SuggestedUsersGenerator interval. Default 300000 ms. */
  SUGGEST_INTERVAL_MS: z.coerce.number().int().min(1000).default(300_000),
  /** At most this many active users get suggestions per run. Default 10000. */
  SUGGEST_MAX_USERS: z.coerce.number().int().min(1).default(10_000),
  /** How often the fallback-snapshots job runs. Default 120000 ms. */
  FALLBACK_SNAPSHOT_INTERVAL_MS: z.coerce.number().int().min(1000).default(120_000),
  /** The fallback-snapshots job keeps a fresh ranking for this many of the most active users. Default 100. */
  FALLBACK_SNAPSHOT_USERS: z.coerce.number().int().min(1).default(100),
  /** Redis over TCP (the origin runs in the data region). Default redis://127.0.0.1:6379. */
  REDIS_URL: z.string().url().default("redis://127.0.0.1:6379"),
  /**
   * Seed nodes of a Redis Cluster, comma separated `host:port` (or `redis://[user:password@]host:port`,
   * `rediss://…`; the first credentials apply to every node). Set, every Redis client the origin
   * builds (`redis()`, origin/src/clients.ts) is a Cluster on them; empty (the default), the
   * standalone REDIS_URL.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .trim()
    .default("")
    .superRefine((s, ctx) => {
      if (s === "") return;
      try {
        parseClusterNodes(s);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: `must be host:port,… or redis:// URLs (${(err as Error).message})` });
      }
    }),
  /** The Redis stream the relay reads (the edge's EVENTS_STREAM_KEY). Default events:ingest. */
  RELAY_STREAM: z.string().min(1).default(EVENTS_STREAM_KEY),
  /** The relay takes over entries another relay left pending this long. Default 30000 ms. */
  RELAY_CLAIM_IDLE_MS: z.coerce.number().int().min(100).default(30_000),
  /** Entries the relay moves per batch. Default 500. */
  RELAY_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  /** Consumer group of the Kafka → ClickHouse sink. Default clickhouse-sink. */
  SINK_GROUP_ID: z.string().min(1).default("clickhouse-sink"),
  /**
   * HMAC key shared with the edge (the edge's ORIGIN_SHARED_SECRET): only requests it signed
   * reach the write API. The local default is refused unless the origin binds to loopback.
   */
  ORIGIN_SHARED_SECRET: z.string().min(32).default(LOCAL_ORIGIN_SECRET),
  /**
   * Bearer token of the operator API (/v1/experiments: ranking experiments). Never a user's
   * token. The local default is refused unless the origin binds to loopback.
   */
  OPERATOR_TOKEN: z.string().min(32).default(LOCAL_OPERATOR_TOKEN),
  /**
   * The edge's base URL, where the live channel's publisher posts (signed, ORIGIN_SHARED_SECRET)
   * what online users should hear: followees' new posts and unread counts. Default
   * http://127.0.0.1:8787 (wrangler dev).
   */
  LIVE_EDGE_URL: z.string().url().default("http://127.0.0.1:8787"),
  /** Items the live publisher holds at most; when full the oldest is dropped (counted). Default 10000. */
  LIVE_QUEUE_MAX: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  /** Timeout of one publish to the edge. Default 2000 ms. */
  LIVE_PUBLISH_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
  /**
   * Fault injection, for the fault matrix only (scripts/faults/, origin/src/kafka/failpoint.ts):
   * when set, SIGUSR2 makes the consumer part this file names SIGKILL its own process between a
   * batch's writes and its commit. Default unset: off, SIGUSR2 not handled.
   */
  FAULT_INJECTION_FILE: z.string().min(1).optional(),
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
  kafka: {
    brokers: string[];
    partitions: number;
    replicationFactor: number;
    topicNamespace: string;
    /** Consumer group session timeout (KAFKA_SESSION_TIMEOUT_MS). */
    sessionTimeoutMs: number;
    /** Partitions a consumer part works on at once (KAFKA_PARTITIONS_CONCURRENTLY). */
    partitionsConcurrently: number;
  };
  cdc: {
    connectUrl: string;
    connectorName: string;
    dbHost: string;
    dbPort: number;
    dbName: string;
    dbUser: string;
    dbPassword: string;
    slotName: string;
    snapshotMode: "initial" | "no_data" | "when_needed";
    publication: string;
    topicPrefix: string;
    topicNamespace: string;
    watchIntervalMs: number;
  };
  startupTimeoutMs: number;
  parts: ("http" | "connector" | "sink" | "index" | "notifications" | "relay" | "jobs")[];
  jobs: {
    hotPostsMs: number;
    suggestMs: number;
    suggestMaxUsers: number;
    fallbackSnapshotMs: number;
    fallbackSnapshotUsers: number;
    affinityMs: number;
    reconcileMs: number;
  };
  index: { namespace: string; groupId: string };
  redisUrl: string;
  /** REDIS_CLUSTER_NODES: a Redis Cluster's seed nodes; "" = the standalone redisUrl. */
  redisClusterNodes: string;
  relayBatchSize: number;
  relayStream: string;
  relayClaimIdleMs: number;
  sinkGroupId: string;
  sharedSecret: string;
  operatorToken: string;
  live: { edgeUrl: string; queueMax: number; timeoutMs: number };
  /** FAULT_INJECTION_FILE (the fault matrix's failpoint), null when off. */
  faultInjectionFile: string | null;
};

/** Parses the environment; throws one error naming every missing or bad variable. */
export function readConfig(env: Record<string, string | undefined> = process.env): OriginConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`invalid origin configuration: ${problems}`);
  }
  const e = parsed.data;
  if (e.ORIGIN_SHARED_SECRET === LOCAL_ORIGIN_SECRET && !LOOPBACK.has(e.ORIGIN_HOST)) {
    throw new Error("invalid origin configuration: ORIGIN_SHARED_SECRET must be set when ORIGIN_HOST is not loopback");
  }
  if (e.OPERATOR_TOKEN === LOCAL_OPERATOR_TOKEN && !LOOPBACK.has(e.ORIGIN_HOST)) {
    throw new Error("invalid origin configuration: OPERATOR_TOKEN must be set when ORIGIN_HOST is not loopback");
  }
  const db = new URL(e.DATABASE_URL);
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
    kafka: {
      brokers: e.KAFKA_BROKERS.split(",").map((b) => b.trim()),
      partitions: e.KAFKA_TOPIC_PARTITIONS,
      replicationFactor: e.KAFKA_TOPIC_REPLICATION,
      topicNamespace: e.KAFKA_TOPIC_NAMESPACE,
      sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
      partitionsConcurrently: e.KAFKA_PARTITIONS_CONCURRENTLY,
    },
    cdc: {
      connectUrl: e.KAFKA_CONNECT_URL.replace(/\/+$/, ""),
      connectorName: e.CDC_CONNECTOR_NAME,
      dbHost: e.CDC_DB_HOST ?? db.hostname,
      dbPort: e.CDC_DB_PORT ?? Number(db.port || 5432),
      dbName: decodeURIComponent(db.pathname.replace(/^\//, "")),
      dbUser: e.CDC_DB_USER,
      dbPassword: e.CDC_DB_PASSWORD,
      slotName: e.CDC_SLOT_NAME,
      snapshotMode: e.CDC_SNAPSHOT_MODE,
      publication: e.CDC_PUBLICATION,
      topicPrefix: e.CDC_TOPIC_PREFIX,
      topicNamespace: e.KAFKA_TOPIC_NAMESPACE,
      watchIntervalMs: e.CDC_WATCH_INTERVAL_MS,
    },
    startupTimeoutMs: e.STARTUP_TIMEOUT_MS,
    parts: e.ORIGIN_PARTS,
    jobs: {
      hotPostsMs: e.HOT_POSTS_INTERVAL_MS,
      suggestMs: e.SUGGEST_INTERVAL_MS,
      suggestMaxUsers: e.SUGGEST_MAX_USERS,
      fallbackSnapshotMs: e.FALLBACK_SNAPSHOT_INTERVAL_MS,
      fallbackSnapshotUsers: e.FALLBACK_SNAPSHOT_USERS,
      affinityMs: e.AFFINITY_REFRESH_INTERVAL_MS,
      reconcileMs: e.INDEX_RECONCILE_INTERVAL_MS,
    },
    index: { namespace: e.INDEX_NAMESPACE, groupId: e.INDEX_GROUP_ID },
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES,
    relayBatchSize: e.RELAY_BATCH_SIZE,
    relayStream: e.RELAY_STREAM,
    relayClaimIdleMs: e.RELAY_CLAIM_IDLE_MS,
    sinkGroupId: e.SINK_GROUP_ID,
    sharedSecret: e.ORIGIN_SHARED_SECRET,
    operatorToken: e.OPERATOR_TOKEN,
    live: { edgeUrl: e.LIVE_EDGE_URL, queueMax: e.LIVE_QUEUE_MAX, timeoutMs: e.LIVE_PUBLISH_TIMEOUT_MS },
    faultInjectionFile: e.FAULT_INJECTION_FILE ?? null,
  };
}
