/**
 * A private CDC pipeline for one test file, on the real stack: a world of its own
 * (scripts/lib/world.ts: PostgreSQL and ClickHouse databases, migrated, a Kafka topic
 * namespace, connector, replication slot and sink consumer group), its Debezium connector
 * registered and the sink running in-process. `teardown()` removes all of it, replication slot
 * included.
 */
import { randomBytes } from "node:crypto";
import type { ClickHouseClient } from "@clickhouse/client";
import { Kafka, logLevel } from "kafkajs";
import type pg from "pg";
import { pino } from "pino";
import { ALL_TOPICS } from "#core/topics.ts";
import { type OriginConfig, readConfig } from "../../../origin/src/config.ts";
import { grantCdcAccess } from "../../../origin/src/connect/grant.ts";
import { ConnectClient, ConnectorManager, ensureTopics } from "../../../origin/src/connect/manager.ts";
import { ioredisExec } from "../../../origin/src/index/exec.ts";
import { ClickHouseSink } from "../../../origin/src/sink/sink.ts";
import {
  createWorld,
  KAFKA_BROKERS,
  tempDatabaseName,
  testRedis,
  type World,
  worldNames,
} from "../../../scripts/lib/world.ts";

export interface CdcHarness {
  id: string;
  world: World;
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

/**
 * A test world's names: a database `npm run stack:down` recognises as a leftover (t_cdc_…), a
 * slot it drops (test_…), the sink group `test-sink-<id>` and index namespace `t<id>:` tests name.
 */
function testNames(id: string) {
  return worldNames(`cdc_${id}`, {
    database: tempDatabaseName(`cdc_${id}`),
    topicNamespace: `t${id}.`,
    connector: `test-${id}`,
    slot: `test_${id}`,
    topicPrefix: `t${id}`,
    sinkGroup: `test-sink-${id}`,
    indexGroup: `test-index-${id}`,
    indexNamespace: `t${id}:`,
  });
}

export async function startCdcHarness(opts: CdcHarnessOptions = {}): Promise<CdcHarness> {
  const id = randomBytes(4).toString("hex");
  const world = await createWorld({ names: testNames(id), owner: "admin" });
  const config = readConfig({
    ...process.env,
    ...world.env,
    CDC_WATCH_INTERVAL_MS: "500",
    STARTUP_TIMEOUT_MS: "90000",
    CDC_SNAPSHOT_MODE: opts.deferConnector ? "no_data" : "initial",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
  });
  const log = pino({ level: config.logLevel });
  const kafka = new Kafka({ clientId: `test-${id}`, brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    await world.drop().catch(() => {});
    throw new Error(`Kafka is not reachable at ${KAFKA_BROKERS}; run \`npm run stack:up\` first`, { cause: err });
  }
  const connect = new ConnectClient(config.cdc.connectUrl);
  const manager = new ConnectorManager(config, {
    connect,
    admin,
    grantCdcAccess: () => grantCdcAccess(world.databaseUrl, config.cdc.dbUser),
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
  // The sink's invalidations go where the worker reads (the Redis Cluster with INDEX_REDIS_CLUSTER).
  const redis = testRedis();
  const sink = new ClickHouseSink(kafka, world.ch, log, {
    groupId: world.names.sinkGroup,
    topicNamespace: config.kafka.topicNamespace,
    invalidate: ioredisExec(redis),
  });
  await sink.start();

  return {
    id,
    world,
    config,
    pg: world.pool,
    ch: world.ch,
    kafka,
    connect,
    sink,
    manager,
    topic: (name) => config.kafka.topicNamespace + name,
    async teardown() {
      await sink.stop().catch(() => {});
      redis.disconnect();
      await manager.stop().catch(() => {});
      await admin.disconnect().catch(() => {});
      await world.drop();
    },
  };
}
