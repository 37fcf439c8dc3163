/**
 * The origin's app context: every client built once from the config and passed to the parts
 * that need it. Nothing else constructs a client. `clients` is the lifecycle part that connects
 * them: the first to start and the last to stop, so every other part starts with its clients
 * connected and drains before they close.
 */
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import { type Admin, Kafka, logLevel, Partitioners, type Producer } from "kafkajs";
import pg from "pg";
import type { Logger } from "pino";
import type { OriginConfig } from "./config.ts";
import { ConnectClient } from "./connect/manager.ts";
import type { Part } from "./lifecycle.ts";
import { withTimeout } from "./readiness.ts";

export interface AppContext {
  config: OriginConfig;
  log: Logger;
  pg: pg.Pool;
  kafka: Kafka;
  admin: Admin;
  clickhouse: ClickHouseClient;
  /** Kafka Connect's REST API (the connector part). */
  connect: ConnectClient;
  /** Commands that answer at once (writes, invalidation, generators, leader locks). */
  redis: Redis;
  /** The relay's idempotent producer and its own Redis connection (it blocks on it); only with the relay part. */
  relay: { producer: Producer; redis: Redis } | null;
  clients: Part;
}

/** How long closing idle pools may take once the parts are drained: it must not hold the exit hostage. */
const CLOSE_TIMEOUT_MS = 2000;

export function createContext(config: OriginConfig, log: Logger): AppContext {
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10, connectionTimeoutMillis: 5000 });
  pool.on("error", (err) => log.warn({ err: err.message }, "idle PostgreSQL client error"));
  const kafkaLog = log.child({ component: "kafkajs" });
  const kafka = new Kafka({
    clientId: "edge-feed-origin",
    brokers: config.kafka.brokers,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...extra } = entry;
        if (level <= logLevel.ERROR) kafkaLog.error(extra, message);
        else kafkaLog.warn(extra, message);
      },
  });
  const clickhouse = createClient({
    url: config.clickhouse.url,
    username: config.clickhouse.username,
    password: config.clickhouse.password,
    database: config.clickhouse.database,
    request_timeout: 30_000,
  });
  const admin = kafka.admin();
  const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const relay = config.parts.includes("relay")
    ? {
        producer: kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          createPartitioner: Partitioners.DefaultPartitioner,
        }),
        redis: new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null }),
      }
    : null;

  const clients: Part = {
    name: "clients",
    async start() {
      await admin.connect();
      await redis.connect();
      if (relay) {
        await relay.producer.connect();
        await relay.redis.connect();
      }
    },
    async stop() {
      if (relay) {
        await relay.producer.disconnect();
        relay.redis.disconnect();
      }
      await admin.disconnect();
      redis.disconnect();
      await withTimeout(
        Promise.allSettled([pool.end(), clickhouse.close()]),
        CLOSE_TIMEOUT_MS,
        "closing clients",
      ).catch((err: unknown) => log.warn({ err: (err as Error).message }, "close"));
    },
    health: () => {
      const ok = redis.status === "ready" && (!relay || relay.redis.status === "ready");
      return { ok, detail: { redis: redis.status, ...(relay ? { relayRedis: relay.redis.status } : {}) } };
    },
  };
  const connect = new ConnectClient(config.cdc.connectUrl);
  return { config, log, pg: pool, kafka, admin, clickhouse, connect, redis, relay, clients };
}
