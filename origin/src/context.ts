/**
 * The origin's app context: every client built once from the config (by clients.ts, as the
 * commands in origin/cli/ build theirs) and passed to the parts that need it. `clients` is the
 * lifecycle part that connects them: the first to start and the last to stop, so every other
 * part starts with its clients connected and drains before they close.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { type Admin, type Kafka, Partitioners, type Producer } from "kafkajs";
import type pg from "pg";
import type { Logger } from "pino";
import { clientFactory } from "./clients.ts";
import type { OriginConfig } from "./config.ts";
import type { ConnectClient } from "./connect/manager.ts";
import { installFailpoints } from "./kafka/failpoint.ts";
import type { Part } from "./lifecycle.ts";
import { withTimeout } from "./readiness.ts";
import type { AnyRedis } from "./redis-cluster.ts";

export interface AppContext {
  config: OriginConfig;
  log: Logger;
  pg: pg.Pool;
  kafka: Kafka;
  admin: Admin;
  clickhouse: ClickHouseClient;
  /** Kafka Connect's REST API (the connector part). */
  connect: ConnectClient;
  /**
   * Commands that answer at once (writes, invalidation, generators, leader locks): a Cluster when
   * REDIS_CLUSTER_NODES is set (clients.ts).
   */
  redis: AnyRedis;
  /**
   * The relay's idempotent producer and its own Redis client (it blocks on it: on a Cluster its
   * own Cluster, so a blocking read holds none of the other parts' connections); only with the
   * relay part.
   */
  relay: { producer: Producer; redis: AnyRedis } | null;
  clients: Part;
}

/** How long closing idle pools may take once the parts are drained: it must not hold the exit hostage. */
const CLOSE_TIMEOUT_MS = 2000;

export function createContext(config: OriginConfig, log: Logger): AppContext {
  const build = clientFactory(config, log);
  installFailpoints(config.faultInjectionFile, log);
  const pool = build.pg();
  const kafka = build.kafka();
  const clickhouse = build.clickhouse();
  const admin = kafka.admin();
  const redis = build.redis();
  const relay = config.parts.includes("relay")
    ? {
        producer: kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          createPartitioner: Partitioners.DefaultPartitioner,
        }),
        redis: build.redis({ blocking: true }),
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
  const connect = build.connect();
  return { config, log, pg: pool, kafka, admin, clickhouse, connect, redis, relay, clients };
}
