/**
 * A private CDC pipeline for one test file, on the real stack: its own PostgreSQL database
 * (migrated), Debezium connector, replication slot, Kafka topics (a unique namespace),
 * ClickHouse database (migrated) and sink consumer group, with the sink running in-process.
 * `teardown()` removes all of it, replication slot included.
 */
import { randomBytes } from "node:crypto";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { pino } from "pino";
import { ALL_TOPICS } from "../../../edge/core/index.ts";
import { migrateClickHouse } from "../../../origin/ch/migrate.ts";
import { migrate } from "../../../origin/db/migrate.ts";
import { invalidateKeys } from "../../../origin/src/cache.ts";
import { type OriginConfig, readConfig } from "../../../origin/src/config.ts";
import { grantCdcAccess } from "../../../origin/src/connect/grant.ts";
import { ConnectClient, ConnectorManager, ensureTopics } from "../../../origin/src/connect/manager.ts";
import { ClickHouseSink } from "../../../origin/src/sink/sink.ts";
import { adminClient, tempDatabase } from "./pg.ts";

export const CH_URL = `http://127.0.0.1:${process.env.CH_GATEWAY_PORT ?? 8123}`;
export const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
export const CONNECT_URL = process.env.KAFKA_CONNECT_URL ?? "http://127.0.0.1:8083";

export interface CdcHarness {
  id: string;
  config: OriginConfig;
  pg: pg.Pool;
  ch: ClickHouseClient;
  kafka: Kafka;
  connect: ConnectClient;
  sink: ClickHouseSink;
  manager: ConnectorManager;
  topic(name: string): string;
  teardown(): Promise<void>;
}

export interface CdcHarnessOptions {
  /**
   * Leave the connector unregistered (and set to snapshot.mode=no_data) until the test calls
   * `manager.start()`: for bulk loads, which write ClickHouse directly before CDC takes over.
   */
  deferConnector?: boolean;
}

export async function startCdcHarness(opts: CdcHarnessOptions = {}): Promise<CdcHarness> {
  const id = randomBytes(4).toString("hex");
  const db = await tempDatabase(`cdc_${id}`);
  const chDatabase = `cdc_${id}`;
  const config = readConfig({
    ...process.env,
    DATABASE_URL: db.url,
    CLICKHOUSE_URL: CH_URL,
    CLICKHOUSE_DATABASE: chDatabase,
    KAFKA_BROKERS: KAFKA_BROKERS.join(","),
    KAFKA_CONNECT_URL: CONNECT_URL,
    KAFKA_TOPIC_NAMESPACE: `t${id}.`,
    CDC_CONNECTOR_NAME: `test-${id}`,
    CDC_SLOT_NAME: `test_${id}`,
    CDC_TOPIC_PREFIX: `t${id}`,
    CDC_WATCH_INTERVAL_MS: "500",
    STARTUP_TIMEOUT_MS: "90000",
    CDC_SNAPSHOT_MODE: opts.deferConnector ? "no_data" : "initial",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
  });
  const log = pino({ level: config.logLevel });
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  {
    const c = await pool.connect();
    try {
      await migrate(c);
    } finally {
      c.release();
    }
  }
  const chAdmin = createClient({ url: CH_URL });
  const ch = createClient({ url: CH_URL, database: chDatabase });
  await migrateClickHouse(chAdmin, ch, chDatabase);
  await chAdmin.close();

  const kafka = new Kafka({ clientId: `test-${id}`, brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`Kafka is not reachable at ${KAFKA_BROKERS}; run \`npm run stack:up\` first`, { cause: err });
  }
  const connect = new ConnectClient(config.cdc.connectUrl);
  const manager = new ConnectorManager(config, {
    connect,
    admin,
    grantCdcAccess: () => grantCdcAccess(db.url, config.cdc.dbUser),
    log,
  });
  if (opts.deferConnector) {
    // The sink subscribes now, so its topics must exist before the connector does.
    await ensureTopics(
      admin,
      ALL_TOPICS.map((t) => config.kafka.topicNamespace + t),
      config.kafka.partitions,
      config.kafka.replicationFactor,
    );
  } else {
    await manager.start();
  }
  const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  const sink = new ClickHouseSink(kafka, ch, log, {
    groupId: `test-sink-${id}`,
    topicNamespace: config.kafka.topicNamespace,
    invalidate: (keys) => invalidateKeys(redis, keys),
  });
  await sink.start();

  return {
    id,
    config,
    pg: pool,
    ch,
    kafka,
    connect,
    sink,
    manager,
    topic: (name) => config.kafka.topicNamespace + name,
    async teardown() {
      await sink.stop().catch(() => {});
      redis.disconnect();
      await manager.stop().catch(() => {});
      await connect.delete(config.cdc.connectorName).catch(() => {});
      await pool.end().catch(() => {});
      await dropSlot(config.cdc.slotName);
      await admin.deleteTopics({ topics: ALL_TOPICS.map((t) => config.kafka.topicNamespace + t) }).catch(() => {});
      await admin.disconnect().catch(() => {});
      await ch.command({ query: `DROP DATABASE IF EXISTS ${chDatabase}` }).catch(() => {});
      await ch.close();
      await db.drop();
    },
  };
}

/** Drops a replication slot once its connector has let go of it (within 30 s). */
export async function dropSlot(slot: string): Promise<void> {
  const admin = await adminClient();
  try {
    for (let i = 0; i < 60; i++) {
      const { rows } = await admin.query<{ active: boolean }>(
        "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
        [slot],
      );
      if (rows.length === 0) return;
      if (!rows[0]?.active) {
        await admin.query("SELECT pg_drop_replication_slot($1)", [slot]);
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`replication slot ${slot} still active after 30 s`);
  } finally {
    await admin.end();
  }
}

/** Polls `probe` until it returns true or `timeoutMs` passes; returns the elapsed ms. */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
