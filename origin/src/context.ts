/**
 * The origin's app context: every client built once from the config and passed to the parts
 * that need it. Nothing else constructs a client.
 */
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import type { Logger } from "pino";
import type { OriginConfig } from "./config.ts";

export interface AppContext {
  config: OriginConfig;
  log: Logger;
  pg: pg.Pool;
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  close(): Promise<void>;
}

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
  return {
    config,
    log,
    pg: pool,
    kafka,
    clickhouse,
    async close() {
      await Promise.allSettled([pool.end(), clickhouse.close()]);
    },
  };
}
