/** Origin entry point: read config, build the context, start the parts, drain on SIGTERM/SIGINT. */
import { Redis } from "ioredis";
import { pino } from "pino";
import { EVENTS_STREAM_KEY, EVENTS_TOPIC } from "../edge/core/index.ts";
import { readConfig } from "./src/config.ts";
import { grantCdcAccess } from "./src/connect/grant.ts";
import { ConnectClient, ConnectorManager } from "./src/connect/manager.ts";
import { createContext } from "./src/context.ts";
import { httpServerPart } from "./src/http.ts";
import { Lifecycle, type Part } from "./src/lifecycle.ts";
import { EventRelay } from "./src/relay/relay.ts";
import { ClickHouseSink } from "./src/sink/sink.ts";

const config = readConfig();
const log = pino({ level: config.logLevel, base: { service: "origin" } });
const ctx = createContext(config, log);
const admin = ctx.kafka.admin();

const parts: Part[] = [];
if (config.parts.includes("connector")) {
  parts.push({
    name: "kafka-admin",
    start: () => admin.connect(),
    stop: () => admin.disconnect(),
    health: () => ({ ok: true }),
  });
  parts.push(
    new ConnectorManager(config, {
      connect: new ConnectClient(config.cdc.connectUrl),
      admin,
      grantCdcAccess: () => grantCdcAccess(config.databaseUrl, config.cdc.dbUser),
      log: log.child({ part: "connector" }),
    }),
  );
}
if (config.parts.includes("sink")) {
  parts.push(
    new ClickHouseSink(ctx.kafka, ctx.clickhouse, log.child({ part: "sink" }), {
      groupId: config.sinkGroupId,
      topicNamespace: config.kafka.topicNamespace,
    }),
  );
}
if (config.parts.includes("relay")) {
  const producer = ctx.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  // The relay blocks on its Redis connection, so it gets one of its own.
  const relayRedis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
  parts.push({
    name: "kafka-producer",
    start: async () => {
      await producer.connect();
      await relayRedis.connect();
    },
    stop: async () => {
      await producer.disconnect();
      relayRedis.disconnect();
    },
    health: () => ({ ok: relayRedis.status === "ready" }),
  });
  parts.push(
    new EventRelay(relayRedis, producer, log.child({ part: "relay" }), {
      stream: EVENTS_STREAM_KEY,
      topic: config.kafka.topicNamespace + EVENTS_TOPIC,
      batchSize: config.relayBatchSize,
    }),
  );
}
// HTTP last: /readyz only answers once everything it reports on has started.
if (config.parts.includes("http")) parts.push(httpServerPart(config, log));

const lifecycle = new Lifecycle(parts, log);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    log.info({ signal }, "shutting down");
    void lifecycle
      .stop(config.shutdownTimeoutMs)
      .then(() => ctx.close())
      .then(() => process.exit(0));
  });
}

lifecycle.start().catch(async (err: unknown) => {
  log.fatal({ err }, "origin failed to start");
  await lifecycle.stop(config.shutdownTimeoutMs);
  await ctx.close();
  process.exit(1);
});
